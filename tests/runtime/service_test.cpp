// What every process does at start, before it writes anything.
#include "wonderland/runtime/service.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "wonderland/common/ids.hpp"

namespace wonderland::runtime {
namespace {

unsigned mode_of(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return 07777;
  return st.st_mode & 07777;
}

TEST(RuntimeTest, FilesAndDirectoriesCreatedAfterStartAreReadableByTheirOwnerOnly) {
  auto old_umask = ::umask(022);
  make_created_files_private();
  auto dir = std::filesystem::temp_directory_path() / ("runtime-test-" + new_uuid());
  std::filesystem::create_directories(dir / "logs");
  std::ofstream(dir / "logs" / "records.csv") << "a,b\n";
  EXPECT_EQ(mode_of(dir), 0700U);
  EXPECT_EQ(mode_of(dir / "logs"), 0700U);
  EXPECT_EQ(mode_of(dir / "logs" / "records.csv"), 0600U);
  ::umask(old_umask);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace wonderland::runtime
