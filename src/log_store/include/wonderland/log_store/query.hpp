// Queries over stored records: a Filter, newest first, in pages.
//
// The request (JSON, the body of a `logs.query` RPC, or query-string parameters):
//   {service?, severity?, min_severity?, correlation_id?, text?, since?, until?   — see filter.hpp
//    limit?   — records per page, 1..1000, default 100
//    cursor?} — the previous page's `next_cursor`; absent for the first page
// The reply: {"records": [record...], "next_cursor"?: "..."}; `next_cursor` is present exactly
// when older matching records exist.
//
// Pages follow storage order, newest first: the order in which the logging service wrote the
// records, which follows their arrival rather than their (sender-side) timestamps. Within a
// page, records are sorted by timestamp, newest first (stable), so that lines from several
// services read in the order they happened.
//
// A cursor is an opaque string naming the last record of a page. It stays valid while records
// are being added (new records never shift later pages) and across restarts of the service;
// once the records it points at have been deleted by file retention, the next page is empty
// and has no cursor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wonderland/common/error.hpp"
#include "wonderland/log_store/filter.hpp"
#include "wonderland/log_store/record.hpp"

namespace wonderland::log_store {

inline constexpr std::size_t kDefaultLimit = 100;
inline constexpr std::size_t kMaxLimit = 1000;

/// A position in the store: file (by inode number), data row, and the record's time as a check.
struct Cursor {
  std::uint64_t file_id = 0;
  std::uint64_t row = 0;
  std::int64_t time_ms = 0;  ///< milliseconds since the epoch of the record at that position

  /// `<file_id>-<row>-<time_ms>`, decimal.
  std::string encode() const;
  /// nullopt when `text` is not an encoded cursor.
  static std::optional<Cursor> decode(std::string_view text);

  friend bool operator==(const Cursor&, const Cursor&) = default;
};

struct Query {
  Filter filter;
  std::size_t limit = kDefaultLimit;
  std::optional<Cursor> cursor;

  /// From the RPC body. Unknown members, wrong types and bad values are refused with an
  /// `invalid_argument` Error naming the member.
  static Result<Query> from_json(const nlohmann::json& j);
  /// From query-string parameters: the filter's, `limit` and `cursor`; other names are ignored.
  static Result<Query> from_params(const std::map<std::string, std::string>& params);
  nlohmann::json to_json() const;
};

struct QueryPage {
  std::vector<Record> records;  ///< newest first
  std::optional<std::string> next_cursor;

  /// `{"records": [...], "next_cursor"?: "..."}`
  nlohmann::json to_json() const;
  /// Parses `to_json`'s output; throws std::invalid_argument when malformed.
  static QueryPage from_json(const nlohmann::json& j);
};

}  // namespace wonderland::log_store
