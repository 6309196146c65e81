// The purchase fixture (purchase_fixture.json) with the in-process bookstore services that answer
// its steps, for the workflow tests that run whole purchases.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>

#include "support.hpp"

namespace wonderland::workflow::testing {

inline const std::filesystem::path kPurchase = WONDERLAND_TEST_DATA_DIR "/purchase_fixture.json";

/// Registers the purchase fixture on `h` and serves its steps (serve_bookstore).
inline void serve_purchase(Harness& h) {
  ASSERT_TRUE(h.registry.load_file(kPurchase).ok());
  serve_bookstore(h);
}

}  // namespace wonderland::workflow::testing
