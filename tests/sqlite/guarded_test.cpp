#include "wonderland/sqlite/guarded.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "wonderland/common/ids.hpp"

namespace wonderland::sqlite {
namespace {

class GuardedTest : public ::testing::Test {
 protected:
  std::string path_ =
      (std::filesystem::temp_directory_path() / ("guarded-test-" + new_uuid()) / "t.db").string();
  std::vector<std::string> reported_;
  std::vector<bool> transient_;
  GuardedStore store_{"the test ledger", [this](const Failure& f) {
                        reported_.push_back(f.message());
                        transient_.push_back(f.transient());
                      }};

  ~GuardedTest() override {
    std::filesystem::remove_all(std::filesystem::path(path_).parent_path());
  }
};

TEST_F(GuardedTest, ReturnsTheBodysResult) {
  Result<int> r = guarded(store_, "count", []() -> Result<int> { return 42; });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 42);
  EXPECT_TRUE(reported_.empty());
}

TEST_F(GuardedTest, AnErrorExceptionKeepsItsErrorAndIsNotReported) {
  const Error thrown = Error::of(codes::kNotFound, "no such order");
  Result<int> r = guarded(store_, "get", [&]() -> Result<int> { throw ErrorException(thrown); });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), thrown);
  EXPECT_TRUE(reported_.empty());
}

TEST_F(GuardedTest, ALockedDatabaseIsRetryableUnavailable) {
  Db holder(path_);
  holder.exec("CREATE TABLE t(x INTEGER)");
  Transaction lock(holder);  // BEGIN IMMEDIATE: holds the write lock
  holder.prepare("INSERT INTO t VALUES (1)").step();

  Db other(path_, Options{.busy_timeout = std::chrono::milliseconds(10)});
  Result<int> r = guarded(store_, "insert", [&]() -> Result<int> {
    other.prepare("INSERT INTO t VALUES (2)").step();
    return 1;
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, codes::kUnavailable);
  EXPECT_TRUE(r.error().retryable);
  EXPECT_EQ(r.error().message, "the test ledger is busy; try again");
  ASSERT_EQ(reported_.size(), 1u);
  EXPECT_TRUE(transient_[0]);
  EXPECT_EQ(reported_[0].rfind("insert: database busy: ", 0), 0u) << reported_[0];
}

TEST_F(GuardedTest, AnyOtherSqliteErrorIsInternalWithoutItsMessage) {
  Db db(path_);
  Result<int> r = guarded(store_, "select", [&]() -> Result<int> {
    db.prepare("SELECT x FROM missing_table").step();
    return 1;
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, codes::kInternal);
  EXPECT_FALSE(r.error().retryable);
  EXPECT_EQ(r.error().message, "error in the test ledger");
  ASSERT_EQ(reported_.size(), 1u);
  EXPECT_FALSE(transient_[0]);
  EXPECT_EQ(reported_[0].rfind("select: database error: ", 0), 0u) << reported_[0];
  EXPECT_NE(reported_[0].find("missing_table"), std::string::npos);
}

TEST_F(GuardedTest, AnyOtherExceptionIsInternalNamingTheOperation) {
  Result<int> r =
      guarded(store_, "tokenize", []() -> Result<int> { throw std::runtime_error("boom"); });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, codes::kInternal);
  EXPECT_EQ(r.error().message, "tokenize failed");
  ASSERT_EQ(reported_.size(), 1u);
  EXPECT_EQ(reported_[0], "tokenize: boom");
}

TEST_F(GuardedTest, WorksWithoutAReport) {
  const GuardedStore silent{"the quiet store", {}};
  Result<int> r = guarded(silent, "x", []() -> Result<int> { throw std::runtime_error("boom"); });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "x failed");
}

}  // namespace
}  // namespace wonderland::sqlite
