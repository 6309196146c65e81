// The per-file summary (which files a query may skip), its binary form and the summaries the
// store keeps on disk for rotated files.
#include "file_summary.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "summary_cache.hpp"
#include "wonderland/log_store/store.hpp"
#include "wonderland/testing/temp_dir.hpp"

namespace wonderland::log_store {
namespace {

using wonderland::testing::TempDir;
namespace fs = std::filesystem;

Record record(int i, std::string message, std::string correlation_id = "") {
  Record r;
  r.time = SystemTime(std::chrono::milliseconds(1'764'000'000'000LL + i));
  r.service = "orders";
  r.correlation_id = std::move(correlation_id);
  r.message = std::move(message);
  r.fields = {{"i", i}};
  return r;
}

Filter text(const std::string& needle) {
  return Filter::from_params({{"text", needle}}).value();
}

TEST(FileSummary, TextThatNoMessageHoldsIsRuledOut) {
  FileSummary s;
  s.add(record(1, "Payment declined for order 42"));
  s.add(record(2, "Müller's basket: 3 books"));
  EXPECT_TRUE(s.may_match(text("payment DECLINED")));
  EXPECT_TRUE(s.may_match(text("order 42")));
  EXPECT_TRUE(s.may_match(text("MüLLER")));  // ASCII letters fold, others match exactly
  EXPECT_FALSE(s.may_match(text("MÜLLER")));
  EXPECT_TRUE(s.may_match(text("ler's bas")));
  EXPECT_TRUE(s.may_match(text("zq")));  // shorter than a trigram: may match anything
  EXPECT_FALSE(s.may_match(text("refund")));
  EXPECT_FALSE(s.may_match(text("order 43")));
  EXPECT_FALSE(s.may_match(text("declined for order 42!")));
}

TEST(FileSummary, CorrelationIdsAndTheRestStillRuleFilesOut) {
  FileSummary s;
  s.add(record(1, "one", "flow-1"));
  EXPECT_TRUE(s.may_match(Filter::from_params({{"correlation_id", "flow-1"}}).value()));
  EXPECT_FALSE(s.may_match(Filter::from_params({{"correlation_id", "flow-2"}}).value()));
  EXPECT_FALSE(s.may_match(Filter::from_params({{"service", "payments"}}).value()));
  EXPECT_FALSE(FileSummary{}.may_match(Filter{}));
}

TEST(FileSummary, TheBinaryFormRoundTripsAndRefusesDamage) {
  FileSummary s;
  for (int i = 0; i < 100; ++i)
    s.add(record(i, "message " + std::to_string(i), "flow-" + std::to_string(i % 7)));
  const std::string bytes = s.encode();
  auto back = FileSummary::decode(bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, s);
  EXPECT_EQ(back->rows(), 100U);

  std::string flipped = bytes;
  flipped[bytes.size() / 2] = static_cast<char>(flipped[bytes.size() / 2] ^ 0x10);
  EXPECT_FALSE(FileSummary::decode(flipped));
  EXPECT_FALSE(FileSummary::decode(std::string_view(bytes).substr(0, bytes.size() - 1)));
  EXPECT_FALSE(FileSummary::decode(bytes + "x"));
  EXPECT_FALSE(FileSummary::decode(""));
}

// ---------------------------------------------------------------------------------------------
// Summaries kept on disk

StoreOptions small_files(const fs::path& dir, std::size_t index_capacity) {
  StoreOptions o;
  o.writer.dir = dir;
  o.writer.max_bytes = 3'000;
  o.writer.max_files = 20;
  o.index_capacity = index_capacity;
  return o;
}

/// 600 records over some 15 files; the first holds the only "needle" and flow "old".
void fill(LogStore& store) {
  for (int i = 0; i < 600; ++i) {
    store.append(record(i, i == 3 ? "the needle" : "message " + std::to_string(i),
                        i < 10 ? "old" : "flow-" + std::to_string(i)));
  }
}

std::vector<int> numbers(const QueryPage& page) {
  std::vector<int> out;
  for (const auto& r : page.records)
    out.push_back(r.fields.at("i").get<int>());
  return out;
}

std::size_t entries_in(const fs::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir))
    ++n;
  return n;
}

TEST(SummaryCache, RotatedFilesGetASummaryThatStartUpReadsInsteadOfTheFile) {
  TempDir dir;
  std::size_t files = 0;
  {
    LogStore store(small_files(dir.path(), 20));
    fill(store);
    files = store.stats().rotations + 1;
    ASSERT_GT(files, 10U);
  }
  const fs::path cache = dir.path() / "wonderland.summaries";
  EXPECT_EQ(entries_in(cache), files - 1);  // every file but the current one

  LogStore store(small_files(dir.path(), 20));
  EXPECT_LE(store.stats().start_file_reads, 2U);  // only what the index of 20 records needs
  Query q;
  q.filter = text("NEEDLE");
  EXPECT_EQ(numbers(store.query(q)), (std::vector<int>{3}));
  EXPECT_EQ(store.stats().file_scans, 1U);  // the other files are ruled out by their summary
  q.filter = Filter::from_params({{"correlation_id", "old"}}).value();
  EXPECT_EQ(numbers(store.query(q)), (std::vector<int>{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}));
  EXPECT_EQ(store.stats().file_scans, 2U);
}

TEST(SummaryCache, ADamagedOrForeignSummaryIsRebuiltFromTheFile) {
  TempDir dir;
  {
    LogStore store(small_files(dir.path(), 20));
    fill(store);
  }
  const fs::path cache = dir.path() / "wonderland.summaries";
  std::vector<fs::path> entries;
  for (const auto& e : fs::directory_iterator(cache))
    entries.push_back(e.path());
  ASSERT_GE(entries.size(), 3U);
  fs::resize_file(entries[0], fs::file_size(entries[0]) - 1);                   // cut short
  fs::copy_file(entries[2], entries[1], fs::copy_options::overwrite_existing);  // another file's
  {
    // Without an index, start-up reads the current file and the two without a usable summary.
    LogStore store(small_files(dir.path(), 0));
    EXPECT_EQ(store.stats().start_file_reads, 3U);
    Query q;
    q.filter = text("needle");
    EXPECT_EQ(numbers(store.query(q)), (std::vector<int>{3}));
    q.filter = Filter::from_params({{"correlation_id", "old"}}).value();
    EXPECT_EQ(numbers(store.query(q)).size(), 10U);
  }
  LogStore store(small_files(dir.path(), 0));
  EXPECT_EQ(store.stats().start_file_reads, 1U);  // both were written anew
}

TEST(SummaryCache, SummariesOfDeletedFilesGoWithThem) {
  TempDir dir;
  StoreOptions o = small_files(dir.path(), 20);
  o.writer.max_files = 3;
  LogStore store(o);
  fill(store);
  EXPECT_EQ(entries_in(dir.path() / "wonderland.summaries"), 2U);
}

TEST(SummaryCache, WithoutItsDirectoryTheSummariesAreRebuilt) {
  TempDir dir;
  {
    LogStore store(small_files(dir.path(), 20));
    fill(store);
  }
  fs::remove_all(dir.path() / "wonderland.summaries");
  LogStore store(small_files(dir.path(), 20));
  EXPECT_GT(store.stats().start_file_reads, 10U);
  Query q;
  q.filter = text("needle");
  EXPECT_EQ(numbers(store.query(q)), (std::vector<int>{3}));
  EXPECT_EQ(store.stats().file_scans, 1U);
  EXPECT_GT(entries_in(dir.path() / "wonderland.summaries"), 10U);
}

}  // namespace
}  // namespace wonderland::log_store
