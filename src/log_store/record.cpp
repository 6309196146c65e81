#include "wonderland/log_store/record.hpp"

#include <array>
#include <cctype>
#include <stdexcept>

#include "wonderland/common/json_text.hpp"

namespace wonderland::log_store {
namespace {

constexpr std::array<std::string_view, 4> kNames = {"debug", "info", "warning", "error"};

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size())
    return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

const nlohmann::json* member(const nlohmann::json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null())
    return nullptr;
  return &*it;
}

/// The member `name` when it is a string (and, with `non_empty`, not ""); else nullptr.
const std::string* string_member(const nlohmann::json& j, const char* name,
                                 bool non_empty = false) {
  const auto* v = member(j, name);
  if (v == nullptr || !v->is_string())
    return nullptr;
  const auto& text = v->get_ref<const std::string&>();
  return non_empty && text.empty() ? nullptr : &text;
}

nlohmann::json as_fields(const nlohmann::json& value) {
  if (value.is_object())
    return value;
  if (value.is_null())
    return nlohmann::json::object();
  return nlohmann::json{{"value", value}};
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) noexcept {
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    char c = s[i];
    if (c < '0' || c > '9')
      return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

}  // namespace

std::string_view to_string(Severity severity) noexcept {
  auto i = static_cast<std::size_t>(severity);
  return i < kNames.size() ? kNames[i] : std::string_view("info");
}

std::optional<Severity> parse_severity(std::string_view name) noexcept {
  if (auto severity = parse_spdlog_severity(name))
    return severity;
  if (iequals(name, "fatal"))
    return Severity::kError;
  return std::nullopt;
}

std::optional<Severity> parse_spdlog_severity(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    if (iequals(name, kNames[i]))
      return static_cast<Severity>(i);
  }
  if (iequals(name, "trace"))
    return Severity::kDebug;
  if (iequals(name, "warn"))
    return Severity::kWarning;
  if (iequals(name, "err") || iequals(name, "critical"))
    return Severity::kError;
  return std::nullopt;
}

SystemTime floor_to_ms(SystemTime t) noexcept {
  return std::chrono::floor<std::chrono::milliseconds>(t);
}

std::string dump_compact(const nlohmann::json& value) {
  return to_json_text(value);  // dump()'s text, invalid UTF-8 replaced, several times faster
}

std::optional<SystemTime> parse_timestamp(std::string_view s) noexcept {
  // Fast path for what this component writes: 2026-11-26T09:26:12.345Z
  if (s.size() == 24 && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' &&
      s[16] == ':' && s[19] == '.' && s[23] == 'Z') {
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, ms = 0;
    if (digits(s, 0, 4, y) && digits(s, 5, 2, mo) && digits(s, 8, 2, d) && digits(s, 11, 2, h) &&
        digits(s, 14, 2, mi) && digits(s, 17, 2, sec) && digits(s, 20, 3, ms) && mo >= 1 &&
        mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 && sec <= 60) {
      // The same bound as parse_iso8601: what a SystemTime (nanoseconds) holds, in seconds.
      constexpr auto kLimit =
          std::chrono::duration_cast<std::chrono::seconds>(SystemTime::duration::max()).count() - 1;
      std::int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
      std::int64_t secs = ((days * 24 + h) * 60 + mi) * 60LL + sec;
      if (secs > kLimit || secs < -kLimit)
        return std::nullopt;
      return SystemTime(std::chrono::seconds(secs)) + std::chrono::milliseconds(ms);
    }
    return std::nullopt;
  }
  try {
    auto t = parse_iso8601(s);
    if (!t)
      return std::nullopt;
    return floor_to_ms(*t);
  } catch (...) {
    return std::nullopt;
  }
}

nlohmann::json to_json(const Record& r) {
  return nlohmann::json{{"timestamp", format_iso8601(r.time)},
                        {"service", r.service},
                        {"severity", std::string(to_string(r.severity))},
                        {"correlation_id", r.correlation_id},
                        {"message", r.message},
                        {"fields", r.fields.is_object() ? r.fields : as_fields(r.fields)}};
}

Record record_from_json(const nlohmann::json& j) {
  if (!j.is_object())
    throw std::invalid_argument("a record must be a JSON object");
  auto required_string = [&](const char* name) -> std::string {
    const auto* v = member(j, name);
    if (v == nullptr)
      throw std::invalid_argument(std::string("record field '") + name + "' is missing");
    if (!v->is_string()) {
      throw std::invalid_argument(std::string("record field '") + name + "' must be a string");
    }
    return v->get<std::string>();
  };
  Record r;
  std::string ts = required_string("timestamp");
  auto t = parse_timestamp(ts);
  if (!t)
    throw std::invalid_argument("record field 'timestamp' is not ISO-8601 UTC: '" + ts + "'");
  r.time = *t;
  r.service = required_string("service");
  std::string sev = required_string("severity");
  auto s = parse_severity(sev);
  if (!s)
    throw std::invalid_argument("record field 'severity' is not a severity: '" + sev + "'");
  r.severity = *s;
  r.message = required_string("message");
  if (const auto* c = member(j, "correlation_id")) {
    if (!c->is_string())
      throw std::invalid_argument("record field 'correlation_id' must be a string");
    r.correlation_id = c->get<std::string>();
  }
  if (const auto* f = member(j, "fields")) {
    if (!f->is_object())
      throw std::invalid_argument("record field 'fields' must be an object");
    r.fields = *f;
  }
  return r;
}

Record record_from_log_body(const nlohmann::json& body, const Defaults& defaults) {
  Record r;
  r.time = floor_to_ms(defaults.time);
  r.service = defaults.service;
  r.severity = defaults.severity;
  r.correlation_id = defaults.correlation_id;
  if (!body.is_object()) {
    r.message = dump_compact(body);
    return r;
  }
  if (const auto* t = string_member(body, "timestamp")) {
    if (auto parsed = parse_timestamp(*t))
      r.time = *parsed;
  }
  if (const auto* service = string_member(body, "service", true))
    r.service = *service;
  if (const auto* s = string_member(body, "severity")) {
    if (auto parsed = parse_severity(*s))
      r.severity = *parsed;
  }
  if (const auto* id = string_member(body, "correlation_id", true))
    r.correlation_id = *id;
  if (const auto* v = member(body, "message")) {
    r.message = v->is_string() ? v->get<std::string>() : dump_compact(*v);
  }
  if (const auto* v = member(body, "fields"))
    r.fields = as_fields(*v);
  return r;
}

Record record_from_workflow_event(std::string_view type, std::string_view source,
                                  std::string_view workflow_id, SystemTime time,
                                  const nlohmann::json& body) {
  Record r;
  r.time = floor_to_ms(time);
  r.service = std::string(source);
  r.correlation_id = std::string(workflow_id);
  if (type.find("failed") != std::string_view::npos) {
    r.severity = Severity::kError;
  } else if (type.find("needs_attention") != std::string_view::npos) {
    r.severity = Severity::kWarning;
  } else {
    r.severity = Severity::kInfo;
  }
  r.message = std::string(type);
  if (body.is_object()) {
    std::string summary;
    auto add = [&summary](std::string_view key, const nlohmann::json& v) {
      std::string text = v.is_string() ? v.get<std::string>() : dump_compact(v);
      if (text.size() > 200) {
        std::size_t cut = 200;  // never in the middle of a UTF-8 sequence
        while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
          --cut;
        text = text.substr(0, cut) + "…";
      }
      summary += summary.empty() ? ": " : ", ";
      summary += key;
      summary += '=';
      summary += text;
    };
    for (const char* key : {"definition", "step", "attempt", "status", "reason"}) {
      const auto* v = member(body, key);
      if (v == nullptr || (v->is_string() && v->get_ref<const std::string&>().empty()))
        continue;
      add(key, *v);
    }
    if (const auto* e = member(body, "error")) {
      if (e->is_object() && e->contains("message") && (*e)["message"].is_string()) {
        add("error", (*e)["message"]);
      } else {
        add("error", *e);
      }
    }
    r.message += summary;
  }
  r.fields = as_fields(body);
  return r;
}

}  // namespace wonderland::log_store
