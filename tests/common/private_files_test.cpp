// Private files are never seen half written, and a key file made by several processes at once
// ends up as one key that all of them use.
#include "wonderland/common/private_files.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "wonderland/common/ids.hpp"
#include "wonderland/common/secret_key.hpp"

namespace wonderland::files {
namespace {

namespace fs = std::filesystem;

class PrivateFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("wl-private-" + new_uuid());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  fs::path dir_;
};

TEST_F(PrivateFilesTest, KeyFilesMadeAtOnceByManyHoldOneWholeKey) {
  for (int round = 0; round < 50; ++round) {
    const fs::path file = dir_ / ("key-" + std::to_string(round));
    std::vector<std::string> keys(8);
    std::vector<std::string> errors(8);
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      threads.emplace_back([&, i] {
        try {
          SecretKey key = SecretKey::load_or_create(file);
          keys[i].assign(reinterpret_cast<const char*>(key.data()), SecretKey::kSize);
        } catch (const std::exception& e) {
          errors[i] = e.what();
        }
      });
    }
    for (auto& t : threads)
      t.join();
    for (std::size_t i = 0; i < keys.size(); ++i) {
      ASSERT_EQ(errors[i], "") << "round " << round;
      EXPECT_EQ(keys[i], keys[0]);
    }
    EXPECT_EQ(read(file), keys[0]);
  }
  // No temporary file is left behind.
  for (const auto& entry : fs::directory_iterator(dir_))
    EXPECT_EQ(entry.path().filename().string().rfind("key-", 0), 0u) << entry.path();
}

TEST_F(PrivateFilesTest, KeepLeavesAnExistingFileAndReplaceReplacesItWithMode0600) {
  const fs::path file = dir_ / "a";
  EXPECT_TRUE(write_private_file(file, "first", Existing::kKeep));
  EXPECT_FALSE(write_private_file(file, "second", Existing::kKeep));
  EXPECT_EQ(read(file), "first");
  EXPECT_TRUE(write_private_file(file, "third", Existing::kReplace));
  EXPECT_EQ(read(file), "third");
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(PrivateFilesTest, ASymbolicLinkIsReplacedNotFollowed) {
  const fs::path target = dir_ / "target";
  std::ofstream(target) << "untouched";
  const fs::path link = dir_ / "link";
  fs::create_symlink(target, link);
  EXPECT_FALSE(write_private_file(link, "secret", Existing::kKeep));
  EXPECT_TRUE(write_private_file(link, "secret", Existing::kReplace));
  EXPECT_EQ(read(target), "untouched");
  EXPECT_FALSE(fs::is_symlink(link));
  EXPECT_EQ(read(link), "secret");
}

}  // namespace
}  // namespace wonderland::files
