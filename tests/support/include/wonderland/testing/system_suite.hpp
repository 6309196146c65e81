// A GoogleTest suite that runs one whole System (broker queues, PostgreSQL schema, every service
// and the mediator) for all of its tests:
//
//   class HostileE2e : public SystemSuite<HostileE2e> {
//    protected:
//     static void SetUpTestSuite() { start_system({.work_dir = ..., .tag = "hostile"}); }
//     static void TearDownTestSuite() { stop_system(); }
//   };
//
// A start that fails makes every test fail with the reason (the processes' logs are printed once).
// A failed test prints the processes' logs; the run folder is kept when any test failed or
// WONDERLAND_E2E_KEEP=1, and removed otherwise. Each test gets its own `http()` client. A test
// may stop the system itself (`store().stop()`, to look at what it left): stop_system() copes.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>
#include <string>

#include "wonderland/testing/http_client.hpp"
#include "wonderland/testing/system.hpp"

namespace wonderland::testing {

template <class Suite>
class SystemSuite : public ::testing::Test {
 protected:
  /// Starts the suite's system; returns whether it started.
  static bool start_system(SystemOptions options) {
    try {
      store_ = new System(std::move(options));
      store_->start();
      return true;
    } catch (const std::exception& e) {
      start_error_ = e.what();
      std::cerr << "the system did not start: " << e.what() << "\n"
                << (store_ != nullptr ? store_->diagnostics() : std::string());
      return false;
    }
  }

  /// Stops the suite's system, then keeps or removes its run folder (see the top of this file).
  static void stop_system() {
    if (store_ == nullptr)
      return;
    store_->stop();
    const char* keep = std::getenv("WONDERLAND_E2E_KEEP");
    if (!any_failure_ && start_error_.empty() && (keep == nullptr || std::string(keep) != "1")) {
      store_->remove_files();
    } else {
      std::cerr << "kept " << store_->dir() << " for inspection\n";
    }
    delete store_;
    store_ = nullptr;
  }

  void SetUp() override {
    if (!start_error_.empty())
      GTEST_FAIL() << "the system did not start: " << start_error_;
    http_ = std::make_unique<HttpClient>(store_->port());
  }

  void TearDown() override {
    if (HasFailure()) {
      any_failure_ = true;
      // (A failed start already printed them.)
      if (store_ != nullptr && start_error_.empty())
        std::cerr << store_->diagnostics();
    }
  }

  HttpClient& http() { return *http_; }
  System& store() { return *store_; }

  static inline System* store_ = nullptr;
  static inline std::string start_error_;
  static inline bool any_failure_ = false;
  std::unique_ptr<HttpClient> http_;
};

}  // namespace wonderland::testing
