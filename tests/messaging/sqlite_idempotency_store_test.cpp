#include "wonderland/messaging/sqlite_idempotency_store.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "wonderland/common/ids.hpp"

namespace wonderland::messaging {
namespace {

class IdempotencyStoreTest : public ::testing::Test {
 protected:
  IdempotencyStoreTest() : db_(path_), store_(db_) { db_.exec("CREATE TABLE effects(k TEXT)"); }
  ~IdempotencyStoreTest() override {
    std::filesystem::remove_all(std::filesystem::path(path_).parent_path());
  }
  int effects() {
    auto q = db_.prepare("SELECT count(*) FROM effects");
    q.step();
    return static_cast<int>(q.int64(0));
  }
  std::function<Result<nlohmann::json>()> effect(const std::string& k,
                                                 Result<nlohmann::json> outcome) {
    return [this, k, outcome] {
      db_.prepare("INSERT INTO effects VALUES (?)").bind(1, k).step();
      ++runs_;
      return outcome;
    };
  }
  std::string path_ =
      (std::filesystem::temp_directory_path() / ("idem-" + new_uuid()) / "t.db").string();
  sqlite::Db db_;
  SqliteIdempotencyStore store_;
  int runs_ = 0;
};

TEST_F(IdempotencyStoreTest, SecondCallWithTheSameKeyReturnsTheRecordedReply) {
  auto first = deduplicated(store_, "k1", effect("k1", nlohmann::json{{"id", 7}}));
  auto second = deduplicated(store_, "k1", effect("k1", nlohmann::json{{"id", 8}}));
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second.value(), (nlohmann::json{{"id", 7}}));
  EXPECT_EQ(runs_, 1);
  EXPECT_EQ(effects(), 1);
}

TEST_F(IdempotencyStoreTest, FinalErrorsAreRecordedAndTheirWritesRolledBack) {
  Error declined = Error::of(codes::kFailedPrecondition, "declined");
  auto first = deduplicated(store_, "k2", effect("k2", declined));
  auto second = deduplicated(store_, "k2", effect("k2", nlohmann::json::object()));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error(), declined);
  EXPECT_EQ(runs_, 1);
  EXPECT_EQ(effects(), 0);
}

TEST_F(IdempotencyStoreTest, RetryableErrorsAreNotRecorded) {
  auto first = deduplicated(store_, "k3", effect("k3", Error::of(codes::kUnavailable, "later")));
  EXPECT_FALSE(store_.has("k3"));
  auto second = deduplicated(store_, "k3", effect("k3", nlohmann::json{{"ok", true}}));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(runs_, 2);
  EXPECT_EQ(effects(), 1);
}

TEST_F(IdempotencyStoreTest, EmptyKeyIsRefused) {
  auto r = deduplicated(store_, "", effect("x", nlohmann::json::object()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, codes::kInvalidArgument);
  EXPECT_EQ(runs_, 0);
}

}  // namespace
}  // namespace wonderland::messaging
