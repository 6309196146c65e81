#include "wonderland/http/request.hpp"

#include <utility>

#include "text.hpp"
#include "wonderland/common/json_limits.hpp"
#include "wonderland/common/json_parse.hpp"

namespace wonderland::http {

namespace {

using detail::iequals;
using detail::sv;

// RFC 6750 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
bool valid_token(std::string_view t) {
  if (t.empty())
    return false;
  std::size_t i = 0;
  for (; i < t.size(); ++i) {
    char c = t[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
    if (!ok)
      break;
  }
  if (i == 0)
    return false;
  for (; i < t.size(); ++i) {
    if (t[i] != '=')
      return false;
  }
  return true;
}

std::string clean_json_message(const nlohmann::json::exception& e) {
  std::string m = e.what();
  // "[json.exception.parse_error.101] parse error at line 1, ..." -> "parse error at line 1, ..."
  if (!m.empty() && m.front() == '[') {
    auto close = m.find("] ");
    if (close != std::string::npos)
      m.erase(0, close + 2);
  }
  return m;
}

const char* type_name(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::array:
      return "an array";
    case nlohmann::json::value_t::string:
      return "a string";
    case nlohmann::json::value_t::boolean:
      return "a boolean";
    case nlohmann::json::value_t::null:
      return "null";
    case nlohmann::json::value_t::object:
      return "an object";
    default:
      return "a number";
  }
}

}  // namespace

Request::Request(RawRequest message, std::string path, QueryParams query,
                 std::vector<std::pair<std::string, std::string>> params,
                 std::string remote_address, std::chrono::steady_clock::time_point received)
    : message_(std::move(message)),
      path_(std::move(path)),
      query_(std::move(query)),
      params_(std::move(params)),
      remote_(std::move(remote_address)),
      received_(received) {}

std::string_view Request::method_string() const {
  return sv(message_.method_string());
}

std::string_view Request::target() const {
  return sv(message_.target());
}

std::optional<std::string_view> Request::param(std::string_view name) const {
  for (const auto& [k, v] : params_) {
    if (k == name)
      return std::string_view(v);
  }
  return std::nullopt;
}

std::optional<std::string_view> Request::header(std::string_view name) const {
  auto it = message_.find(boost::beast::string_view(name.data(), name.size()));
  if (it == message_.end())
    return std::nullopt;
  return sv(it->value());
}

std::optional<std::string_view> Request::bearer_token() const {
  auto value = header("Authorization");
  if (!value)
    return std::nullopt;
  std::string_view v = *value;
  constexpr std::string_view kScheme = "bearer";
  if (v.size() <= kScheme.size() || !iequals(v.substr(0, kScheme.size()), kScheme)) {
    return std::nullopt;
  }
  v.remove_prefix(kScheme.size());
  if (v.front() != ' ' && v.front() != '\t')
    return std::nullopt;
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
    v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
    v.remove_suffix(1);
  if (!valid_token(v))
    return std::nullopt;
  return v;
}

Result<nlohmann::json> Request::json_body() const {
  const std::string& b = message_.body();
  if (b.find_first_not_of(" \t\r\n") == std::string::npos) {
    return Error::of(codes::kInvalidArgument, "request body is empty; expected JSON");
  }
  if (auto fast = parse_json_fast(b, JsonLimits::http()))
    return std::move(*fast);
  // The reference path, for the exact error. Depth, string sizes and value count are checked
  // before the document is built, so that no recursive code (copies, dump, redaction) ever sees
  // a hostile nesting.
  if (auto limit = check_json_limits(b, JsonLimits::http())) {
    return Error::of(codes::kInvalidArgument, "request body: " + limit->message);
  }
  try {
    return nlohmann::json::parse(b);
  } catch (const nlohmann::json::exception& e) {
    return Error::of(codes::kInvalidArgument,
                     "request body is not valid JSON: " + clean_json_message(e));
  }
}

Result<nlohmann::json> Request::json_object() const {
  auto j = json_body();
  if (!j)
    return j;
  if (!j->is_object()) {
    return Error::of(codes::kInvalidArgument,
                     std::string("request body must be a JSON object, got ") + type_name(*j));
  }
  return j;
}

}  // namespace wonderland::http
