// A folder of its own for one test under the system's temporary folder, removed with
// everything in it when destroyed (also when a fixture's constructor throws after making it).
#pragma once

#include <filesystem>
#include <string>
#include <system_error>

#include "wonderland/common/ids.hpp"

namespace wonderland::testing {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "wl-test")
      : path_(std::filesystem::temp_directory_path() / (prefix + "-" + new_uuid())) {
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace wonderland::testing
