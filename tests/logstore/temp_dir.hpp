// A directory of its own for one test, deleted afterwards.
#pragma once

#include "wonderland/testing/temp_dir.hpp"

namespace wonderland::logstore::testing {

using wonderland::testing::TempDir;

}  // namespace wonderland::logstore::testing
