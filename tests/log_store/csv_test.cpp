// CSV quoting and parsing: every byte of a record survives a round trip.
#include "wonderland/log_store/csv.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace wonderland::log_store {
namespace {

using Rows = std::vector<std::vector<std::string>>;

Record sample(std::string message) {
  Record r;
  r.time = *parse_timestamp("2026-11-26T09:26:12.345Z");
  r.service = "orders";
  r.severity = Severity::kWarning;
  r.correlation_id = "4b1f6c1e-7d0a-4c57-9b7e-0d3c2a1b9f00";
  r.message = std::move(message);
  r.fields = {{"sku", "978-3,16"}, {"note", "say \"hi\"\r\nbye"}, {"n", 42}};
  return r;
}

TEST(CsvField, PlainTextIsWrittenAsItIs) {
  std::string out;
  csv::append_field(out, "plain text-with_symbols;and:colons");
  EXPECT_EQ(out, "plain text-with_symbols;and:colons");
}

TEST(CsvField, CommasQuotesAndLineBreaksAreQuoted) {
  std::string out;
  csv::append_field(out, "a,b");
  out += '|';
  csv::append_field(out, "say \"hi\"");
  out += '|';
  csv::append_field(out, "line1\r\nline2\rline3\nline4");
  EXPECT_EQ(out, "\"a,b\"|\"say \"\"hi\"\"\"|\"line1\r\nline2\rline3\nline4\"");
}

TEST(CsvRow, HasSixColumnsAndEndsWithCrlf) {
  std::string row = csv::format_row(sample("hello"));
  ASSERT_GE(row.size(), 2U);
  EXPECT_EQ(row.substr(row.size() - 2), "\r\n");
  auto rows = csv::parse(row);
  ASSERT_EQ(rows.size(), 1U);
  ASSERT_EQ(rows[0].size(), csv::kColumns);
  EXPECT_EQ(rows[0][0], "2026-11-26T09:26:12.345Z");
  EXPECT_EQ(rows[0][1], "orders");
  EXPECT_EQ(rows[0][2], "warning");
}

TEST(CsvRoundTrip, AwkwardMessagesSurviveUnchanged) {
  const std::vector<std::string> messages = {
      "plain",
      "comma, separated, values",
      "\"quoted\" and \"\"doubled\"\"",
      "CR\ronly",
      "LF\nonly",
      "CRLF\r\nboth",
      "trailing newline\n",
      "Müller — 東京",
      "emoji 🐇 and tab\tinside",
      "",
      ",",
      "\"",
      " leading and trailing spaces ",
  };
  std::string file = std::string(csv::kHeader) + "\r\n";
  for (const auto& m : messages)
    file += csv::format_row(sample(m));
  auto rows = csv::parse(file);
  ASSERT_EQ(rows.size(), messages.size() + 1);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"timestamp", "service", "severity", "correlation_id",
                                               "message", "fields"}));
  for (std::size_t i = 0; i < messages.size(); ++i) {
    auto r = csv::record_from_row(rows[i + 1]);
    ASSERT_TRUE(r.has_value()) << "row " << i;
    EXPECT_EQ(*r, sample(messages[i])) << "message " << i;
  }
}

TEST(CsvParser, ChunksMaySplitAnywhere) {
  std::string file = std::string(csv::kHeader) + "\r\n";
  for (int i = 0; i < 20; ++i)
    file += csv::format_row(sample("row " + std::to_string(i) + ", \"x\"\r\n y"));
  const auto whole = csv::parse(file);
  for (std::size_t step : {1U, 2U, 3U, 7U, 64U}) {
    Rows got;
    csv::Parser parser;
    auto collect = [&got](const csv::Parser::Row& row) { got.push_back(row); };
    for (std::size_t i = 0; i < file.size(); i += step)
      parser.feed(std::string_view(file).substr(i, step), collect);
    EXPECT_FALSE(parser.finish(collect));
    EXPECT_EQ(got, whole) << "chunks of " << step;
  }
}

TEST(CsvParser, AcceptsLfAndSkipsBlankLines) {
  EXPECT_EQ(csv::parse("a,b\n\nc,d\r\n\r\ne,f"), (Rows{{"a", "b"}, {"c", "d"}, {"e", "f"}}));
}

TEST(CsvParser, EmptyFieldsAndQuotedEmptyField) {
  EXPECT_EQ(csv::parse(",,\r\n\"\"\r\n"), (Rows{{"", "", ""}, {""}}));
}

TEST(CsvParser, ARowCutOffInsideAQuoteIsDiscarded) {
  Rows got;
  csv::Parser parser;
  auto collect = [&got](const csv::Parser::Row& row) { got.push_back(row); };
  parser.feed("a,b\r\nc,\"unterminated, text", collect);
  EXPECT_TRUE(parser.finish(collect));
  EXPECT_EQ(got, (Rows{{"a", "b"}}));
}

TEST(CsvParser, IsLenientWithStrayQuotes) {
  EXPECT_EQ(csv::parse("ab\"c,\"d\"e\r\n"), (Rows{{"ab\"c", "de"}}));
}

TEST(CsvRecord, RowsThatAreNotRecordsAreRecognized) {
  EXPECT_FALSE(csv::record_from_row(
      {"timestamp", "service", "severity", "correlation_id", "message", "fields"}));
  EXPECT_FALSE(csv::record_from_row({"2026-11-26T09:26:12.345Z", "a", "info"}));
  EXPECT_FALSE(csv::record_from_row({"2026-11-26T09:26:12.345Z", "a", "loud", "", "m", "{}"}));
  auto r = csv::record_from_row({"2026-11-26T09:26:12.345Z", "a", "info", "", "m", "not json"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->fields, (nlohmann::json{{"value", "not json"}}));
}

TEST(CsvRecord, FieldsAreParsedLazilyOnRequest) {
  auto rows = csv::parse(csv::format_row(sample("m")));
  auto without = csv::record_from_row(rows[0], false);
  ASSERT_TRUE(without);
  EXPECT_EQ(without->fields, nlohmann::json::object());
  EXPECT_EQ(csv::parse_fields(rows[0][5]), sample("m").fields);
}

TEST(CsvRecord, InvalidUtf8InFieldsIsReplacedNotFatal) {
  Record r = sample("m");
  r.fields = {{"bytes", std::string("\xff\xfe", 2)}};
  std::string row;
  EXPECT_NO_THROW(row = csv::format_row(r));
  auto rows = csv::parse(row);
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(csv::parse_fields(rows[0][5])["bytes"], "\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(CsvRecord, DeeplyNestedFieldsAreKeptAsText) {
  const std::string deep = "{\"a\":" + std::string(200'000, '[') + std::string(200'000, ']') + "}";
  nlohmann::json fields = csv::parse_fields(deep);
  ASSERT_TRUE(fields.contains("value"));
  EXPECT_EQ(fields["value"].get<std::string>().size(), deep.size());
  const std::string shallow = "{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}";
  EXPECT_TRUE(csv::parse_fields(shallow)["a"].is_array());
}

}  // namespace
}  // namespace wonderland::log_store
