// The CSV form of records (RFC 4180).
//
// Every file starts with the header row `timestamp,service,severity,correlation_id,message,fields`;
// each record is one row, terminated by CRLF. `fields` is the compact JSON text of the record's
// fields. A field is enclosed in double quotes when it contains a comma, a double quote, CR or
// LF (or is empty while being the only column, which never happens here); a double quote inside
// is doubled. Bytes are written as they are, so UTF-8 text survives unchanged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wonderland/log_store/record.hpp"

namespace wonderland::log_store::csv {

/// The header row, without its line terminator.
inline constexpr std::string_view kHeader =
    "timestamp,service,severity,correlation_id,message,fields";
inline constexpr std::size_t kColumns = 6;
inline constexpr std::string_view kLineEnd = "\r\n";

/// Appends `field` to `out`, quoted and escaped when RFC 4180 requires it.
void append_field(std::string& out, std::string_view field);
/// The fields column for `fields`: compact JSON of the object (`{}` for null, `{"value": x}`
/// for anything that is not an object).
std::string fields_json(const nlohmann::json& fields);
/// Appends the record's row (six fields and CRLF) to `out`.
void append_row(std::string& out, const Record& record);
/// The same, with the fields column given as already serialized JSON text.
void append_row(std::string& out, const Record& record, std::string_view fields_json);
/// The record's row, CRLF included.
std::string format_row(const Record& record);

/// An incremental RFC 4180 parser: bytes go in (in chunks of any size, split anywhere), rows
/// come out. It accepts CRLF, LF and lone CR as row terminators and skips blank lines. It is
/// lenient with malformed input instead of failing: a quote inside an unquoted field is kept
/// as a character, and characters after a closing quote are appended to the field.
class Parser {
 public:
  using Row = std::vector<std::string>;
  /// Called with each complete row; the row is reused after the call returns.
  using RowFn = std::function<void(const Row&)>;

  /// Consumes `bytes`, calling `on_row` for every row they complete.
  void feed(std::string_view bytes, const RowFn& on_row);
  /// Ends the input. A last row without terminator is emitted; a row cut off inside a quoted
  /// field (a write interrupted by a crash) is discarded. Returns whether something was
  /// discarded. The parser is then ready for a new input.
  bool finish(const RowFn& on_row);

 private:
  enum class State : std::uint8_t { kFieldStart, kUnquoted, kQuoted, kQuoteInQuoted, kAfterCr };
  void end_field();
  void end_row(const RowFn& on_row);
  /// Ends the field at a separator or the row at a line end; false when `c` is neither.
  bool end_at(char c, const RowFn& on_row);
  // One step of `feed` in each state, from `p`; each returns where the input goes on.
  const char* at_field_start(const char* p, const RowFn& on_row);
  const char* in_unquoted(const char* p, const char* end, const RowFn& on_row);
  const char* in_quoted(const char* p, const char* end);
  const char* after_quote(const char* p, const RowFn& on_row);

  State state_ = State::kFieldStart;
  Row row_;
  std::size_t fields_ = 0;    // fields completed in the current row
  bool row_started_ = false;  // anything but a terminator seen in the current row
};

/// Parses a whole text into rows.
std::vector<Parser::Row> parse(std::string_view text);

/// The record of a data row; nullopt when the row is not one (the header, a wrong number of
/// columns, an unreadable timestamp or severity). With `with_fields` false the fields column is
/// not parsed (`fields` stays `{}`), for scans that filter first; see `parse_fields`.
std::optional<Record> record_from_row(const Parser::Row& row, bool with_fields = true);
/// The fields column's JSON object; text that is not a JSON object is kept as `{"value": text}`.
nlohmann::json parse_fields(std::string_view text);

}  // namespace wonderland::log_store::csv
