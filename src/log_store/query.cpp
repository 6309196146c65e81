#include "wonderland/log_store/query.hpp"

#include <array>
#include <charconv>
#include <stdexcept>

namespace wonderland::log_store {
namespace {

Error bad(const std::string& name, const std::string& why) {
  Error e = Error::of(codes::kInvalidArgument, "parameter '" + name + "': " + why);
  e.fields.push_back({name, why});
  return e;
}

constexpr std::array<std::string_view, 9> kKnown = {"service",        "severity", "min_severity",
                                                    "correlation_id", "text",     "since",
                                                    "until",          "limit",    "cursor"};

template <class T>
bool parse_number(std::string_view text, T& out) {
  if (text.empty())
    return false;
  auto [ptr, err] = std::from_chars(text.data(), text.data() + text.size(), out);
  return err == std::errc() && ptr == text.data() + text.size();
}

std::optional<Error> set_limit(Query& q, std::int64_t n) {
  if (n < 1 || n > static_cast<std::int64_t>(kMaxLimit)) {
    return bad("limit", "must be between 1 and " + std::to_string(kMaxLimit));
  }
  q.limit = static_cast<std::size_t>(n);
  return std::nullopt;
}

std::optional<Error> set_cursor(Query& q, const std::string& text) {
  if (text.empty())
    return std::nullopt;
  auto c = Cursor::decode(text);
  if (!c)
    return bad("cursor", "'" + text + "' is not a cursor returned by a previous page");
  q.cursor = *c;
  return std::nullopt;
}

}  // namespace

std::string Cursor::encode() const {
  return std::to_string(file_id) + "-" + std::to_string(row) + "-" + std::to_string(time_ms);
}

std::optional<Cursor> Cursor::decode(std::string_view text) {
  auto first = text.find('-');
  if (first == std::string_view::npos)
    return std::nullopt;
  auto second = text.find('-', first + 1);
  if (second == std::string_view::npos)
    return std::nullopt;
  Cursor c;
  if (!parse_number(text.substr(0, first), c.file_id) ||
      !parse_number(text.substr(first + 1, second - first - 1), c.row) ||
      !parse_number(text.substr(second + 1), c.time_ms)) {
    return std::nullopt;
  }
  return c;
}

Result<Query> Query::from_json(const nlohmann::json& j) {
  if (j.is_null())
    return Query{};
  if (!j.is_object())
    return Error::of(codes::kInvalidArgument, "the query must be a JSON object");
  for (const auto& [key, value] : j.items()) {
    bool known = false;
    for (auto k : kKnown)
      known = known || key == k;
    if (!known)
      return bad(key, "unknown parameter");
  }
  auto filter = Filter::from_json(j);
  if (!filter)
    return filter.error();
  Query q;
  q.filter = std::move(*filter);
  if (auto it = j.find("limit"); it != j.end() && !it->is_null()) {
    std::int64_t n = 0;
    if (it->is_number_integer()) {
      n = it->get<std::int64_t>();
    } else if (!(it->is_string() && parse_number(it->get_ref<const std::string&>(), n))) {
      return bad("limit", "must be an integer");
    }
    if (auto e = set_limit(q, n))
      return *e;
  }
  if (auto it = j.find("cursor"); it != j.end() && !it->is_null()) {
    if (!it->is_string())
      return bad("cursor", "must be a string");
    if (auto e = set_cursor(q, it->get<std::string>()))
      return *e;
  }
  return q;
}

Result<Query> Query::from_params(const std::map<std::string, std::string>& params) {
  auto filter = Filter::from_params(params);
  if (!filter)
    return filter.error();
  Query q;
  q.filter = std::move(*filter);
  if (auto it = params.find("limit"); it != params.end() && !it->second.empty()) {
    std::int64_t n = 0;
    if (!parse_number(std::string_view(it->second), n))
      return bad("limit", "must be an integer");
    if (auto e = set_limit(q, n))
      return *e;
  }
  if (auto it = params.find("cursor"); it != params.end()) {
    if (auto e = set_cursor(q, it->second))
      return *e;
  }
  return q;
}

nlohmann::json Query::to_json() const {
  nlohmann::json j = filter.to_json();
  j["limit"] = limit;
  if (cursor)
    j["cursor"] = cursor->encode();
  return j;
}

nlohmann::json QueryPage::to_json() const {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& r : records)
    list.push_back(log_store::to_json(r));
  nlohmann::json j{{"records", std::move(list)}};
  if (next_cursor)
    j["next_cursor"] = *next_cursor;
  return j;
}

QueryPage QueryPage::from_json(const nlohmann::json& j) {
  if (!j.is_object())
    throw std::invalid_argument("a page must be a JSON object");
  auto it = j.find("records");
  if (it == j.end() || !it->is_array())
    throw std::invalid_argument("page member 'records' must be an array");
  QueryPage page;
  page.records.reserve(it->size());
  for (const auto& r : *it)
    page.records.push_back(record_from_json(r));
  if (auto c = j.find("next_cursor"); c != j.end() && !c->is_null()) {
    if (!c->is_string())
      throw std::invalid_argument("page member 'next_cursor' must be a string");
    page.next_cursor = c->get<std::string>();
  }
  return page;
}

}  // namespace wonderland::log_store
