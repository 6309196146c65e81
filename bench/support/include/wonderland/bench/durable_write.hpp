// The cost of one durable write on the disk under a folder: what every write-ahead journal pays
// at least once per commit, measured so that a latency figure can be set against its floor in the
// same run.
#pragma once

#include <filesystem>

#include "wonderland/bench/stats.hpp"

namespace wonderland::bench {

/// Times `samples` rounds of a 4 KiB pwrite into a preallocated file in `dir` followed by
/// fdatasync, as a WAL's commit does once its file has its size. The file is removed afterwards.
/// Throws std::runtime_error when the file cannot be written.
Figures durable_write(const std::filesystem::path& dir, int samples);

}  // namespace wonderland::bench
