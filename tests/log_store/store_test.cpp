// Rotating files, the store's group commit, the index and paged queries.
#include "wonderland/log_store/store.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "wonderland/log_store/csv.hpp"
#include "wonderland/log_store/writer.hpp"
#include "wonderland/testing/temp_dir.hpp"

namespace wonderland::log_store {
namespace {

using wonderland::testing::TempDir;
namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Record numbered(int i, Severity severity = Severity::kInfo, std::string service = "svc") {
  Record r;
  r.time = SystemTime(std::chrono::milliseconds(1'764'000'000'000LL + i));
  r.service = std::move(service);
  r.severity = severity;
  r.correlation_id = "corr-" + std::to_string(i % 7);
  r.message = "message " + std::to_string(i) + ", with \"quotes\"\r\nand a line break";
  r.fields = {{"i", i}};
  return r;
}

std::vector<int> numbers_of(const std::vector<Record>& records) {
  std::vector<int> out;
  for (const auto& r : records)
    out.push_back(r.fields.at("i").get<int>());
  return out;
}

std::vector<std::vector<std::string>> data_rows(const fs::path& p) {
  auto rows = csv::parse(slurp(p));
  EXPECT_FALSE(rows.empty()) << p;
  if (!rows.empty()) {
    EXPECT_EQ(rows[0].size(), csv::kColumns);
    EXPECT_EQ(rows[0][0], "timestamp");
    rows.erase(rows.begin());
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Writer

TEST(Writer, NewFileStartsWithTheHeader) {
  TempDir dir;
  WriterOptions o;
  o.dir = dir.path() / "nested" / "csv";
  RotatingCsvWriter w(o);
  EXPECT_EQ(slurp(o.dir / "wonderland.csv"), std::string(csv::kHeader) + "\r\n");
}

TEST(Writer, RotatesBySizeAndKeepsTheRetentionCount) {
  TempDir dir;
  WriterOptions o;
  o.dir = dir.path();
  o.max_bytes = 1000;
  o.max_files = 3;
  RotatingCsvWriter w(o);
  std::vector<std::string> rows;
  for (int i = 0; i < 100; ++i)
    rows.push_back(csv::format_row(numbered(i)));
  std::vector<std::string_view> views(rows.begin(), rows.end());
  std::vector<RowPosition> positions;
  w.write(views, positions);
  ASSERT_EQ(positions.size(), rows.size());
  EXPECT_GT(w.rotations(), 2U);

  EXPECT_TRUE(fs::exists(dir.path() / "wonderland.csv"));
  EXPECT_TRUE(fs::exists(dir.path() / "wonderland.1.csv"));
  EXPECT_TRUE(fs::exists(dir.path() / "wonderland.2.csv"));
  EXPECT_FALSE(fs::exists(dir.path() / "wonderland.3.csv"));
  ASSERT_EQ(w.files().size(), 3U);

  // Every file is within the limit, and the three hold the newest rows in order.
  std::vector<std::string> kept;
  for (int k = 2; k >= 0; --k) {
    fs::path p = w.path_for(static_cast<unsigned>(k));
    EXPECT_LE(fs::file_size(p), o.max_bytes) << p;
    for (auto& r : data_rows(p))
      kept.push_back(r[4]);
  }
  ASSERT_FALSE(kept.empty());
  for (std::size_t i = 0; i < kept.size(); ++i) {
    EXPECT_EQ(kept[i], numbered(static_cast<int>(100 - kept.size() + i)).message);
  }
  // Positions: generations increase, rows restart at 0 in each file.
  EXPECT_EQ(positions.back().generation, w.files().front().generation);
  EXPECT_EQ(positions.back().row + 1, w.current_rows());
  for (std::size_t i = 1; i < positions.size(); ++i)
    EXPECT_LT(positions[i - 1], positions[i]);
}

TEST(Writer, ARowLargerThanTheLimitGetsAFileOfItsOwn) {
  TempDir dir;
  WriterOptions o;
  o.dir = dir.path();
  o.max_bytes = 100;
  o.max_files = 5;
  RotatingCsvWriter w(o);
  std::string big = csv::format_row(numbered(1));
  std::vector<RowPosition> positions;
  w.write({big, big}, positions);
  EXPECT_EQ(data_rows(w.path_for(0)).size(), 1U);
  EXPECT_EQ(data_rows(w.path_for(1)).size(), 1U);
}

TEST(Writer, ContinuesTheCurrentFileAfterARestart) {
  TempDir dir;
  WriterOptions o;
  o.dir = dir.path();
  std::string row = csv::format_row(numbered(1));
  std::vector<RowPosition> positions;
  {
    RotatingCsvWriter w(o);
    w.write({row, row}, positions);
  }
  RotatingCsvWriter w(o);
  EXPECT_EQ(w.current_rows(), 2U);
  w.write({row}, positions);
  EXPECT_EQ(positions.back().row, 2U);
  EXPECT_EQ(data_rows(w.path_for(0)).size(), 3U);
  EXPECT_FALSE(fs::exists(w.path_for(1)));
}

TEST(Writer, ADamagedCurrentFileIsRotatedAwayUntouched) {
  TempDir dir;
  WriterOptions o;
  o.dir = dir.path();
  std::string damaged = std::string(csv::kHeader) + "\r\n" + csv::format_row(numbered(1)) +
                        "2026-11-26T09:26:12.345Z,svc,info,,\"cut off";
  {
    std::ofstream out(dir.path() / "wonderland.csv", std::ios::binary);
    out << damaged;
  }
  RotatingCsvWriter w(o);
  EXPECT_EQ(slurp(dir.path() / "wonderland.1.csv"), damaged);
  EXPECT_EQ(slurp(dir.path() / "wonderland.csv"), std::string(csv::kHeader) + "\r\n");
  EXPECT_EQ(w.files().size(), 2U);
}

TEST(Writer, FilesBeyondASmallerRetentionAreDeletedAtStart) {
  TempDir dir;
  for (const char* name : {"wonderland.csv", "wonderland.1.csv", "wonderland.4.csv",
                           "wonderland.9.csv", "other.7.csv", "wonderland.x.csv"}) {
    std::ofstream(dir.path() / name) << csv::kHeader << "\r\n";
  }
  WriterOptions o;
  o.dir = dir.path();
  o.max_files = 3;
  RotatingCsvWriter w(o);
  EXPECT_TRUE(fs::exists(dir.path() / "wonderland.1.csv"));
  EXPECT_FALSE(fs::exists(dir.path() / "wonderland.4.csv"));
  EXPECT_FALSE(fs::exists(dir.path() / "wonderland.9.csv"));
  EXPECT_TRUE(fs::exists(dir.path() / "other.7.csv"));
  EXPECT_TRUE(fs::exists(dir.path() / "wonderland.x.csv"));
}

TEST(Writer, RefusesBadOptions) {
  TempDir dir;
  WriterOptions o;
  o.dir = dir.path();
  o.max_files = 0;
  EXPECT_THROW(RotatingCsvWriter{o}, std::invalid_argument);
  o.max_files = 1;
  o.max_bytes = 0;
  EXPECT_THROW(RotatingCsvWriter{o}, std::invalid_argument);
}

TEST(Writer, RetentionOfOneKeepsOnlyTheCurrentFile) {
  TempDir dir;
  WriterOptions o;
  o.dir = dir.path();
  o.max_bytes = 300;
  o.max_files = 1;
  RotatingCsvWriter w(o);
  std::string row = csv::format_row(numbered(1));
  std::vector<RowPosition> positions;
  for (int i = 0; i < 5; ++i)
    w.write({row}, positions);
  EXPECT_EQ(w.files().size(), 1U);
  EXPECT_FALSE(fs::exists(w.path_for(1)));
  EXPECT_EQ(data_rows(w.path_for(0)).size(), 1U);
}

// ---------------------------------------------------------------------------------------------
// Store

StoreOptions options_in(const fs::path& dir, std::size_t index_capacity = 100'000,
                        std::uint64_t max_bytes = 10ULL << 20, unsigned max_files = 10) {
  StoreOptions o;
  o.writer.dir = dir;
  o.writer.max_bytes = max_bytes;
  o.writer.max_files = max_files;
  o.index_capacity = index_capacity;
  return o;
}

TEST(Store, ConcurrentAppendsAreAllWrittenInBatches) {
  TempDir dir;
  std::atomic<std::uint64_t> observed{0};
  LogStore store(options_in(dir.path()),
                 [&](std::vector<StoredRecord>&& b) { observed += b.size(); });
  constexpr int kThreads = 16;
  constexpr int kEach = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&store, t] {
      for (int i = 0; i < kEach; ++i)
        store.append(numbered(t * kEach + i));
    });
  }
  for (auto& th : threads)
    th.join();
  auto s = store.stats();
  EXPECT_EQ(s.appended, static_cast<std::uint64_t>(kThreads * kEach));
  EXPECT_EQ(observed.load(), s.appended);
  EXPECT_LE(s.batches, s.appended);
  std::set<int> seen;
  for (auto& row : data_rows(dir.path() / "wonderland.csv")) {
    auto r = csv::record_from_row(row);
    ASSERT_TRUE(r);
    seen.insert(r->fields.at("i").get<int>());
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kThreads * kEach));
}

TEST(Store, ALingeringWriteGoesAsSoonAsTheBatchIsFull) {
  TempDir dir;
  StoreOptions o = options_in(dir.path());
  o.linger = std::chrono::milliseconds(2000);
  o.max_batch = 4;
  LogStore store(o);
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&store, t] { store.append(numbered(t)); });
  for (auto& th : threads)
    th.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1500));
  EXPECT_EQ(store.stats().batches, 1U);
  EXPECT_EQ(store.stats().largest_batch, 4U);
}

TEST(Store, ALoneWriteWaitsAtMostTheLinger) {
  TempDir dir;
  StoreOptions o = options_in(dir.path());
  o.linger = std::chrono::milliseconds(30);
  LogStore store(o);
  auto start = std::chrono::steady_clock::now();
  store.append(numbered(1));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, std::chrono::milliseconds(25));
  EXPECT_LT(took, std::chrono::milliseconds(1000));
}

TEST(Store, AppendIsOnFileWhenItReturns) {
  TempDir dir;
  LogStore store(options_in(dir.path()));
  store.append(numbered(7));
  auto rows = data_rows(dir.path() / "wonderland.csv");
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(csv::record_from_row(rows[0]), numbered(7));
}

TEST(Store, AFailedWriteFailsItsCallersAndLeavesNoPartialRow) {
  TempDir dir;
  LogStore store(options_in(dir.path()));
  store.append(numbered(1));
  const auto size_before = fs::file_size(dir.path() / "wonderland.csv");
  // The file-size limit makes the next write fail half-way, like a full disk.
  struct rlimit old {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old;
  small.rlim_cur = size_before + 100;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&store, &failures, t] {
      std::vector<Record> many;
      for (int i = 0; i < 10; ++i)
        many.push_back(numbered(100 * t + i));
      try {
        store.append(std::move(many));
      } catch (const std::system_error&) {
        ++failures;
      }
    });
  }
  for (auto& th : threads)
    th.join();
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old), 0);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_EQ(failures.load(), 4);
  EXPECT_GE(store.stats().write_failures, 1U);
  EXPECT_EQ(fs::file_size(dir.path() / "wonderland.csv"), size_before);
  // Writing works again once there is room, and the file is intact.
  store.append(numbered(2));
  EXPECT_EQ(numbers_of(store.query(Query{}).records), (std::vector<int>{2, 1}));
  EXPECT_EQ(data_rows(dir.path() / "wonderland.csv").size(), 2U);
}

TEST(Store, AFailedRotationKeepsWritingToTheCurrentFile) {
  TempDir dir;
  LogStore store(options_in(dir.path(), 100, 1000, 2));
  store.append(numbered(1));
  // The rotation target cannot be replaced: a non-empty directory sits there.
  fs::create_directories(dir.path() / "wonderland.1.csv" / "blocker");
  for (int i = 2; i < 20; ++i)
    store.append(numbered(i));
  EXPECT_EQ(data_rows(dir.path() / "wonderland.csv").size(), 19U);
  EXPECT_EQ(store.stats().write_failures, 0U);
  fs::remove_all(dir.path() / "wonderland.1.csv");
  store.append(numbered(20));  // rotates now
  EXPECT_EQ(data_rows(dir.path() / "wonderland.csv").size(), 1U);
  EXPECT_EQ(data_rows(dir.path() / "wonderland.1.csv").size(), 19U);
}

class StoreQuery : public ::testing::TestWithParam<std::size_t> {};

// 1000 records over several files; the index holds all, some or none of them. Paging through
// everything with any filter gives the same pages as filtering the list by hand.
TEST_P(StoreQuery, PagesAreNewestFirstCompleteAndStable) {
  TempDir dir;
  LogStore store(options_in(dir.path(), GetParam(), 20'000, 20));
  constexpr int kCount = 1000;
  std::vector<Record> all;
  for (int i = 0; i < kCount; ++i) {
    all.push_back(numbered(i, static_cast<Severity>(i % 4), i % 3 == 0 ? "orders" : "inventory"));
  }
  for (int i = 0; i < kCount; i += 50) {
    store.append(std::vector<Record>(all.begin() + i, all.begin() + i + 50));
  }
  ASSERT_GT(store.stats().rotations, 3U);

  struct Case {
    const char* name;
    Filter filter;
  };
  std::vector<Case> cases = {
      {"all", Filter{}},
      {"service", Filter::from_params({{"service", "orders"}}).value()},
      {"min_severity", Filter::from_params({{"min_severity", "warning"}}).value()},
      {"severity+corr",
       Filter::from_params({{"severity", "error"}, {"correlation_id", "corr-3"}}).value()},
      {"text", Filter::from_params({{"text", "MESSAGE 99"}}).value()},
      {"range", Filter::from_params({{"since", format_iso8601(all[100].time)},
                                     {"until", format_iso8601(all[350].time)}})
                    .value()},
      {"nothing", Filter::from_params({{"service", "nobody"}}).value()},
  };
  for (const auto& c : cases) {
    std::vector<int> expected;
    for (int i = kCount - 1; i >= 0; --i) {
      if (c.filter.matches(all[static_cast<std::size_t>(i)]))
        expected.push_back(i);
    }
    for (std::size_t limit : {1U, 7U, 100U, 1000U}) {
      std::vector<int> got;
      Query q;
      q.filter = c.filter;
      q.limit = limit;
      for (int page = 0; page < 2000; ++page) {
        QueryPage p = store.query(q);
        EXPECT_LE(p.records.size(), limit);
        auto n = numbers_of(p.records);
        got.insert(got.end(), n.begin(), n.end());
        if (!p.next_cursor)
          break;
        EXPECT_EQ(p.records.size(), limit) << "a page before the last one is full";
        q.cursor = Cursor::decode(*p.next_cursor);
        ASSERT_TRUE(q.cursor);
      }
      EXPECT_EQ(got, expected) << c.name << " limit " << limit;
    }
  }
  // Records come back whole.
  Query q;
  q.limit = 1;
  auto p = store.query(q);
  ASSERT_EQ(p.records.size(), 1U);
  EXPECT_EQ(p.records[0], all.back());
}

INSTANTIATE_TEST_SUITE_P(IndexSizes, StoreQuery, ::testing::Values(100'000U, 300U, 0U));

TEST(Store, CursorIsNotShiftedByNewRecords) {
  TempDir dir;
  LogStore store(options_in(dir.path(), 50, 5'000, 10));
  for (int i = 0; i < 100; ++i)
    store.append(numbered(i));
  Query q;
  q.limit = 10;
  QueryPage first = store.query(q);
  EXPECT_EQ(numbers_of(first.records).front(), 99);
  for (int i = 100; i < 300; ++i)
    store.append(numbered(i));
  q.cursor = Cursor::decode(*first.next_cursor);
  QueryPage second = store.query(q);
  EXPECT_EQ(numbers_of(second.records), (std::vector<int>{89, 88, 87, 86, 85, 84, 83, 82, 81, 80}));
}

TEST(Store, ACursorIntoDeletedFilesGivesAnEmptyLastPage) {
  TempDir dir;
  LogStore store(options_in(dir.path(), 10, 2'000, 2));
  for (int i = 0; i < 20; ++i)
    store.append(numbered(i));
  Query q;
  q.limit = 5;
  QueryPage first = store.query(q);
  ASSERT_TRUE(first.next_cursor);
  for (int i = 20; i < 200; ++i)
    store.append(numbered(i));  // rotates the old files away
  q.cursor = Cursor::decode(*first.next_cursor);
  QueryPage later = store.query(q);
  EXPECT_TRUE(later.records.empty());
  EXPECT_FALSE(later.next_cursor);
}

TEST(Store, TheIndexOnlyHoldsWhatTheFilesHold) {
  TempDir dir;
  LogStore store(options_in(dir.path(), 100'000, 2'000, 2));
  for (int i = 0; i < 200; ++i)
    store.append(numbered(i));
  std::size_t on_file = 0;
  for (unsigned k = 0; k < 2; ++k)
    on_file += data_rows(dir.path() / (k == 0 ? "wonderland.csv" : "wonderland.1.csv")).size();
  EXPECT_EQ(store.stats().indexed, on_file);
  Query q;
  q.limit = 1000;
  EXPECT_EQ(store.query(q).records.size(), on_file);
}

TEST(Store, ReopeningLoadsTheIndexAndKeepsCursorsValid) {
  TempDir dir;
  std::optional<Cursor> cursor;
  {
    LogStore store(options_in(dir.path(), 1000, 3'000, 10));
    for (int i = 0; i < 100; ++i)
      store.append(numbered(i));
    Query q;
    q.limit = 30;
    cursor = Cursor::decode(*store.query(q).next_cursor);
  }
  LogStore store(options_in(dir.path(), 1000, 3'000, 10));
  EXPECT_EQ(store.stats().indexed, 100U);
  store.append(numbered(100));
  Query q;
  q.limit = 3;
  q.cursor = cursor;
  EXPECT_EQ(numbers_of(store.query(q).records), (std::vector<int>{69, 68, 67}));
  q.cursor.reset();
  EXPECT_EQ(numbers_of(store.query(q).records), (std::vector<int>{100, 99, 98}));
}

TEST(Store, ACursorWhoseRecordChangedIsNotFollowed) {
  TempDir dir;
  LogStore store(options_in(dir.path()));
  for (int i = 0; i < 10; ++i)
    store.append(numbered(i));
  Query q;
  q.limit = 2;
  Cursor c = *Cursor::decode(*store.query(q).next_cursor);
  c.time_ms += 1;
  q.cursor = c;
  EXPECT_TRUE(store.query(q).records.empty());
}

}  // namespace
}  // namespace wonderland::log_store
