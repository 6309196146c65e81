#include "wonderland/log/record.hpp"

#include <array>
#include <cstdint>
#include <stdexcept>

#include "detail.hpp"
#include "wonderland/common/ids.hpp"
#include "wonderland/log_store/record.hpp"

namespace wonderland::log {
namespace {

constexpr std::array<std::string_view, 4> kLabels = {"DEBUG  ", "INFO   ", "WARNING", "ERROR  "};

// The names of the severities and their parsing are log_store's: both enums list the same four
// severities in the same order.
static_assert(static_cast<int>(Severity::kDebug) == static_cast<int>(log_store::Severity::kDebug) &&
              static_cast<int>(Severity::kInfo) == static_cast<int>(log_store::Severity::kInfo) &&
              static_cast<int>(Severity::kWarning) ==
                  static_cast<int>(log_store::Severity::kWarning) &&
              static_cast<int>(Severity::kError) == static_cast<int>(log_store::Severity::kError));

// A string is written bare when it is a non-empty run of printable characters that cannot be
// confused with the line's own syntax.
bool is_bare_word(std::string_view s) noexcept {
  if (s.empty())
    return false;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F || c == '"' || c == '=' || c == '|' || c == '\\')
      return false;
  }
  return true;
}

void append_escaped(std::string& out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
          static constexpr char kHex[] = "0123456789abcdef";
          auto u = static_cast<unsigned char>(c);
          out += "\\x";
          out += kHex[u >> 4];
          out += kHex[u & 0x0F];
        } else {
          out += c;
        }
    }
  }
}

void append_field(std::string& out, std::string_view key, const nlohmann::json& value) {
  out += ' ';
  append_escaped(out, key);
  out += '=';
  if (value.is_string()) {
    const auto& s = value.get_ref<const std::string&>();
    if (is_bare_word(s)) {
      out += s;
      return;
    }
  }
  out += log_store::dump_compact(value);
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is not one.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  if (c < 0x80)
    return 1;
  std::size_t len = 0;
  std::uint32_t cp = 0;
  if ((c & 0xE0) == 0xC0) {
    len = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size())
    return 0;
  for (std::size_t k = 1; k < len; ++k) {
    unsigned char cc = byte(i + k);
    if ((cc & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return len;
}

}  // namespace

std::string_view to_string(Severity severity) noexcept {
  return log_store::to_string(static_cast<log_store::Severity>(severity));
}

std::optional<Severity> parse_severity(std::string_view name) noexcept {
  auto severity = log_store::parse_spdlog_severity(name);
  if (!severity)
    return std::nullopt;
  return static_cast<Severity>(*severity);
}

Severity from_spdlog(spdlog::level::level_enum level) noexcept {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug:
      return Severity::kDebug;
    case spdlog::level::info:
      return Severity::kInfo;
    case spdlog::level::warn:
      return Severity::kWarning;
    default:
      return Severity::kError;
  }
}

spdlog::level::level_enum to_spdlog(Severity severity) noexcept {
  switch (severity) {
    case Severity::kDebug:
      return spdlog::level::debug;
    case Severity::kInfo:
      return spdlog::level::info;
    case Severity::kWarning:
      return spdlog::level::warn;
    case Severity::kError:
      break;
  }
  return spdlog::level::err;
}

std::string format_line(const Record& record) {
  std::string out;
  detail::append_line(out, record.time, record.severity, record.service, record.correlation_id,
                      record.message, record.fields);
  return out;
}

nlohmann::json to_body(const Record& record) {
  std::string service = record.service;
  std::string correlation_id = record.correlation_id;
  std::string message = record.message;
  nlohmann::json fields =
      record.fields.is_object() ? record.fields : nlohmann::json{{"value", record.fields}};
  detail::sanitize_utf8(service);
  detail::sanitize_utf8(correlation_id);
  detail::sanitize_utf8(message);
  detail::sanitize_utf8(fields);
  return nlohmann::json{{"timestamp", format_iso8601(record.time)},
                        {"service", std::move(service)},
                        {"severity", to_string(record.severity)},
                        {"correlation_id", std::move(correlation_id)},
                        {"message", std::move(message)},
                        {"fields", std::move(fields)}};
}

messaging::Envelope to_envelope(const Record& record) {
  messaging::Envelope envelope;
  envelope.body = to_body(record);
  envelope.message_id = new_uuid();
  envelope.type = kRecordType;
  envelope.correlation_id = envelope.body["correlation_id"].get<std::string>();
  envelope.source = envelope.body["service"].get<std::string>();
  envelope.timestamp = envelope.body["timestamp"].get<std::string>();
  // Same form as messaging::new_traceparent, which lives in the messaging library proper.
  envelope.traceparent = "00-" + fast_random_hex(16) + "-" + fast_random_hex(8) + "-01";
  return envelope;
}

messaging::Envelope to_batch_envelope(const std::vector<const Record*>& records) {
  if (records.empty())
    throw std::invalid_argument("log: a batch needs at least one record");
  nlohmann::json list = nlohmann::json::array();
  list.get_ref<nlohmann::json::array_t&>().reserve(records.size());
  for (const Record* record : records)
    list.push_back(to_body(*record));
  messaging::Envelope envelope;
  envelope.message_id = new_uuid();
  envelope.type = kRecordBatchType;
  envelope.source = list.front()["service"].get<std::string>();
  envelope.timestamp = list.front()["timestamp"].get<std::string>();
  envelope.traceparent = "00-" + fast_random_hex(16) + "-" + fast_random_hex(8) + "-01";
  envelope.body = nlohmann::json{{"records", std::move(list)}};
  return envelope;
}

namespace detail {

void append_line(std::string& out, SystemTime time, Severity severity, std::string_view service,
                 std::string_view correlation_id, std::string_view message,
                 const nlohmann::json& fields) {
  out += format_iso8601(time);
  out += ' ';
  out += kLabels[static_cast<std::size_t>(severity)];
  out += ' ';
  append_escaped(out, service);
  out += " corr=";
  if (correlation_id.empty()) {
    out += '-';
  } else {
    append_escaped(out, correlation_id);
  }
  out += ' ';
  append_escaped(out, message);
  if (fields.is_object()) {
    if (!fields.empty()) {
      out += " |";
      for (const auto& [key, value] : fields.items())
        append_field(out, key, value);
    }
  } else if (!fields.is_null()) {
    out += " |";
    append_field(out, "value", fields);
  }
}

void sanitize_utf8(std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t len = utf8_sequence_length(s, i);
    if (len == 0)
      break;
    i += len;
  }
  if (i == s.size())
    return;  // the common case: valid, untouched
  std::string out(s, 0, i);
  while (i < s.size()) {
    std::size_t len = utf8_sequence_length(s, i);
    if (len == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    } else {
      out.append(s, i, len);
      i += len;
    }
  }
  s = std::move(out);
}

void sanitize_utf8(nlohmann::json& value) {
  if (value.is_string()) {
    sanitize_utf8(value.get_ref<std::string&>());
  } else if (value.is_array()) {
    for (auto& element : value)
      sanitize_utf8(element);
  } else if (value.is_object()) {
    nlohmann::json cleaned = nlohmann::json::object();
    for (auto& [key, element] : value.items()) {
      std::string k = key;
      sanitize_utf8(k);
      sanitize_utf8(element);
      cleaned[k] = std::move(element);
    }
    value = std::move(cleaned);
  }
}

}  // namespace detail
}  // namespace wonderland::log
