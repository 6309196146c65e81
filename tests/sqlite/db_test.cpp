#include "wonderland/sqlite/db.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "wonderland/common/ids.hpp"

namespace wonderland::sqlite {
namespace {

class DbTest : public ::testing::Test {
 protected:
  std::string path_ =
      (std::filesystem::temp_directory_path() / ("db-test-" + new_uuid()) / "t.db").string();
  ~DbTest() override { std::filesystem::remove_all(std::filesystem::path(path_).parent_path()); }
};

TEST_F(DbTest, BindsAndReadsEveryType) {
  Db db(path_);
  db.exec("CREATE TABLE t(i INTEGER, r REAL, s TEXT, n TEXT)");
  db.prepare("INSERT INTO t VALUES (?, ?, ?, ?)")
      .bind(1, std::int64_t{1} << 40)
      .bind(2, 2.5)
      .bind(3, "it's \"quoted\"; DROP TABLE t; --")
      .bind(4, std::optional<std::string>{})
      .step();
  auto q = db.prepare("SELECT i, r, s, n FROM t");
  ASSERT_TRUE(q.step());
  EXPECT_EQ(q.int64(0), std::int64_t{1} << 40);
  EXPECT_DOUBLE_EQ(q.real(1), 2.5);
  EXPECT_EQ(q.text(2), "it's \"quoted\"; DROP TABLE t; --");
  EXPECT_FALSE(q.optional_text(3));
  EXPECT_FALSE(q.step());
}

TEST_F(DbTest, TransactionRollsBackUnlessCommitted) {
  Db db(path_);
  db.exec("CREATE TABLE t(x INTEGER)");
  {
    Transaction tx(db);
    db.prepare("INSERT INTO t VALUES (1)").step();
  }
  {
    Transaction tx(db);
    db.prepare("INSERT INTO t VALUES (2)").step();
    tx.commit();
  }
  auto q = db.prepare("SELECT group_concat(x) FROM t");
  ASSERT_TRUE(q.step());
  EXPECT_EQ(q.text(0), "2");
}

TEST_F(DbTest, ConstraintViolationsAreRecognisable) {
  Db db(path_);
  db.exec("CREATE TABLE t(x INTEGER PRIMARY KEY)");
  db.prepare("INSERT INTO t VALUES (1)").step();
  try {
    db.prepare("INSERT INTO t VALUES (1)").step();
    FAIL() << "expected a constraint error";
  } catch (const SqliteError& e) {
    EXPECT_TRUE(e.constraint());
    EXPECT_FALSE(e.busy());
  }
  EXPECT_THROW(db.prepare("SELEKT nonsense"), SqliteError);
}

TEST_F(DbTest, ReusedStatementsStartAfreshAndMayBeUsedTwiceAtOnce) {
  Db db(path_);
  db.exec("CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT)");
  const char* insert = "INSERT INTO t(k, v) VALUES (?, ?)";
  db.prepare(insert).bind(1, 1).bind(2, "one").step();
  db.prepare(insert).bind(1, 2).step();  // reused: the old binding of 2 is gone, so v is NULL
  const char* select = "SELECT k, v FROM t ORDER BY k";
  auto outer = db.prepare(select);
  ASSERT_TRUE(outer.step());  // half-way through, the same text again
  {
    auto inner = db.prepare(select);
    int rows = 0;
    while (inner.step())
      ++rows;
    EXPECT_EQ(rows, 2);
  }
  EXPECT_EQ(outer.int64(0), 1);
  ASSERT_TRUE(outer.step());
  EXPECT_EQ(outer.int64(0), 2);
  EXPECT_TRUE(outer.is_null(1));
  EXPECT_FALSE(outer.step());
}

TEST_F(DbTest, AStatementMayOutliveItsDatabase) {
  std::optional<Statement> kept;
  {
    Db db(path_);
    db.exec("CREATE TABLE t(k INTEGER)");
    kept.emplace(db.prepare("SELECT k FROM t"));
  }
  kept.reset();  // finalized, not pooled into a database that is gone
  SUCCEED();
}

TEST_F(DbTest, UsesWriteAheadLogging) {
  Db db(path_);
  auto q = db.prepare("PRAGMA journal_mode");
  ASSERT_TRUE(q.step());
  EXPECT_EQ(q.text(0), "wal");
}

/// The permission bits of `path` (e.g. 0600).
unsigned mode_of(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return 07777;
  return st.st_mode & 07777;
}

TEST_F(DbTest, ANewDatabaseAndItsLogsArePrivateAndSoAreTheDirectoriesMadeForIt) {
  // Whatever the umask, the file is 0600 and the directories created for it 0700.
  auto old_umask = ::umask(0);
  auto nested = std::filesystem::path(path_).parent_path() / "a" / "b" / "t.db";
  {
    Db db(nested.string(), Options{std::chrono::milliseconds(5000), "FULL"});
    db.exec("CREATE TABLE t(x INTEGER)");
    db.prepare("INSERT INTO t VALUES (1)").step();
    auto sync = db.prepare("PRAGMA synchronous");
    ASSERT_TRUE(sync.step());
    EXPECT_EQ(sync.int64(0), 2);  // FULL
    EXPECT_EQ(mode_of(nested), 0600U);
    EXPECT_EQ(mode_of(nested.string() + "-wal"), 0600U);
    EXPECT_EQ(mode_of(nested.string() + "-shm"), 0600U);
  }
  ::umask(old_umask);
  EXPECT_EQ(mode_of(nested.parent_path()), 0700U);
  EXPECT_EQ(mode_of(nested.parent_path().parent_path()), 0700U);
  EXPECT_EQ(mode_of(std::filesystem::path(path_).parent_path()), 0700U);
}

TEST_F(DbTest, AnExistingWorldReadableDatabaseIsTightenedOnOpen) {
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path());
  std::ofstream(path_).close();
  std::ofstream(path_ + "-wal").close();
  std::filesystem::permissions(path_, std::filesystem::perms(0644));
  std::filesystem::permissions(path_ + "-wal", std::filesystem::perms(0644));
  std::filesystem::permissions(std::filesystem::path(path_).parent_path(),
                               std::filesystem::perms(0755));
  ASSERT_EQ(mode_of(path_), 0644U);
  {
    Db db(path_);
    db.exec("CREATE TABLE t(x INTEGER)");
    EXPECT_EQ(mode_of(path_), 0600U);
    EXPECT_EQ(mode_of(path_ + "-wal"), 0600U);
  }
  // A directory that was already there is the operator's: it is left as it is.
  EXPECT_EQ(mode_of(std::filesystem::path(path_).parent_path()), 0755U);
}

/// POSIX record locks this process holds, from /proc/locks.
int posix_locks_of_this_process() {
  std::ifstream locks("/proc/locks");
  const std::string pid = " " + std::to_string(::getpid()) + " ";
  int n = 0;
  for (std::string line; std::getline(locks, line);) {
    if (line.find("POSIX") != std::string::npos && line.find(pid) != std::string::npos)
      ++n;
  }
  return n;
}

TEST_F(DbTest, OpeningASecondConnectionKeepsTheLocksOfTheFirst) {
  // SQLite holds a lock on the -shm of an open WAL database for as long as it is open; closing
  // any descriptor of a file drops all of this process's locks on it. Without the lock, another
  // process opening the database believes it is alone and may delete the WAL under this one.
  Db first(path_);
  first.exec("CREATE TABLE t(x INTEGER)");
  first.prepare("INSERT INTO t VALUES (1)").step();
  const int held = posix_locks_of_this_process();
  ASSERT_GT(held, 0);
  Db second(path_);
  auto q = second.prepare("SELECT count(*) FROM t");
  ASSERT_TRUE(q.step());
  EXPECT_EQ(q.int64(0), 1);
  EXPECT_GE(posix_locks_of_this_process(), held);
}

TEST_F(DbTest, AnInMemoryDatabaseTouchesNoFile) {
  Db db(":memory:");
  db.exec("CREATE TABLE t(x INTEGER)");
  EXPECT_FALSE(std::filesystem::exists(":memory:"));
}

}  // namespace
}  // namespace wonderland::sqlite
