// Fuzz target: the log store's CSV reader. The whole text and the same text fed in two chunks
// split anywhere must give the same rows; every row that is a record is read (fields
// included), and a record written back as a row reads back with the same columns (the
// fields the same once written).
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_input.hpp"
#include "wonderland/log_store/csv.hpp"

using namespace wonderland::log_store;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<csv::Parser::Row> whole = csv::parse(text);

  const std::size_t split = size == 0 ? 0 : data[0] % (size + 1);
  std::vector<csv::Parser::Row> chunked;
  csv::Parser parser;
  auto collect = [&chunked](const csv::Parser::Row& row) { chunked.push_back(row); };
  parser.feed(text.substr(0, split), collect);
  parser.feed(text.substr(split), collect);
  parser.finish(collect);
  WONDERLAND_FUZZ_CHECK(whole == chunked);

  for (const auto& row : whole) {
    auto record = csv::record_from_row(row);
    if (!record)
      continue;
    std::string written = csv::format_row(*record);
    auto rows = csv::parse(written);
    WONDERLAND_FUZZ_CHECK(rows.size() == 1);
    WONDERLAND_FUZZ_CHECK(rows[0].size() == csv::kColumns);
    WONDERLAND_FUZZ_CHECK(rows[0][1] == record->service);
    WONDERLAND_FUZZ_CHECK(rows[0][3] == record->correlation_id);
    WONDERLAND_FUZZ_CHECK(rows[0][4] == record->message);
    auto back = csv::record_from_row(rows[0]);
    WONDERLAND_FUZZ_CHECK(back.has_value());
    // Writing replaces invalid UTF-8 in the fields; from then on they are stable.
    auto again = csv::record_from_row(csv::parse(csv::format_row(*back)).at(0));
    WONDERLAND_FUZZ_CHECK(again.has_value() && again->fields == back->fields);
  }
  return 0;
}
