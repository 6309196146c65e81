#include "wonderland/log_store/filter.hpp"

#include <array>

namespace wonderland::log_store {
namespace {

constexpr std::array<const char*, 7> kNames = {
    "service", "severity", "min_severity", "correlation_id", "text", "since", "until"};

Error bad(const std::string& name, const std::string& why) {
  Error e = Error::of(codes::kInvalidArgument, "parameter '" + name + "': " + why);
  e.fields.push_back({name, why});
  return e;
}

unsigned char fold(unsigned char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<unsigned char>(c - 'A' + 'a') : c;
}

// Applies one named parameter; returns an error naming it when the value is bad.
std::optional<Error> apply(Filter& f, const std::string& name, const std::string& value) {
  if (value.empty())
    return std::nullopt;
  if (name == "service") {
    f.service = value;
  } else if (name == "severity" || name == "min_severity") {
    auto s = parse_severity(value);
    if (!s)
      return bad(name, "'" + value + "' is not one of debug, info, warning, error");
    (name == "severity" ? f.severity : f.min_severity) = *s;
  } else if (name == "correlation_id") {
    f.correlation_id = value;
  } else if (name == "text") {
    f.text = value;
  } else if (name == "since" || name == "until") {
    auto t = parse_timestamp(value);
    if (!t) {
      return bad(name,
                 "'" + value + "' is not an ISO-8601 UTC time (e.g. 2026-11-26T09:26:12.345Z)");
    }
    (name == "since" ? f.since : f.until) = *t;
  }
  return std::nullopt;
}

Result<Filter> check(Filter f) {
  if (f.since && f.until && *f.until < *f.since)
    return bad("until", "is before 'since'");
  return f;
}

}  // namespace

bool contains_ignoring_case(std::string_view haystack, std::string_view needle) noexcept {
  if (needle.empty())
    return true;
  if (needle.size() > haystack.size())
    return false;
  const auto first = fold(static_cast<unsigned char>(needle[0]));
  const std::size_t last_start = haystack.size() - needle.size();
  for (std::size_t i = 0; i <= last_start; ++i) {
    if (fold(static_cast<unsigned char>(haystack[i])) != first)
      continue;
    std::size_t k = 1;
    while (k < needle.size() && fold(static_cast<unsigned char>(haystack[i + k])) ==
                                    fold(static_cast<unsigned char>(needle[k]))) {
      ++k;
    }
    if (k == needle.size())
      return true;
  }
  return false;
}

Result<Filter> Filter::from_params(const std::map<std::string, std::string>& params) {
  Filter f;
  for (const char* name : kNames) {
    auto it = params.find(name);
    if (it == params.end())
      continue;
    if (auto e = apply(f, name, it->second))
      return *e;
  }
  return check(std::move(f));
}

Result<Filter> Filter::from_json(const nlohmann::json& j) {
  if (j.is_null())
    return Filter{};
  if (!j.is_object())
    return Error::of(codes::kInvalidArgument, "the filter must be a JSON object");
  Filter f;
  for (const char* name : kNames) {
    auto it = j.find(name);
    if (it == j.end() || it->is_null())
      continue;
    if (!it->is_string())
      return bad(name, "must be a string");
    if (auto e = apply(f, name, it->get<std::string>()))
      return *e;
  }
  return check(std::move(f));
}

nlohmann::json Filter::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  if (service)
    j["service"] = *service;
  if (severity)
    j["severity"] = std::string(to_string(*severity));
  if (min_severity)
    j["min_severity"] = std::string(to_string(*min_severity));
  if (correlation_id)
    j["correlation_id"] = *correlation_id;
  if (text)
    j["text"] = *text;
  if (since)
    j["since"] = format_iso8601(*since);
  if (until)
    j["until"] = format_iso8601(*until);
  return j;
}

bool Filter::matches(const Record& r) const {
  if (severity && r.severity != *severity)
    return false;
  if (min_severity && r.severity < *min_severity)
    return false;
  if (since && r.time < *since)
    return false;
  if (until && r.time >= *until)
    return false;
  if (service && r.service != *service)
    return false;
  if (correlation_id && r.correlation_id != *correlation_id)
    return false;
  if (text && !contains_ignoring_case(r.message, *text))
    return false;
  return true;
}

bool Filter::empty() const {
  return !service && !severity && !min_severity && !correlation_id && !text && !since && !until;
}

}  // namespace wonderland::log_store
