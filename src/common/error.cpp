#include "wonderland/common/error.hpp"

#include <array>
#include <nlohmann/json.hpp>

namespace wonderland {

namespace {

struct CodeName {
  Code code;
  std::string_view name;
};

constexpr std::array<CodeName, 12> kCodeNames{{
    {Code::kInvalidArgument, "invalid_argument"},
    {Code::kNotFound, "not_found"},
    {Code::kConflict, "conflict"},
    {Code::kFailedPrecondition, "failed_precondition"},
    {Code::kUnauthenticated, "unauthenticated"},
    {Code::kPermissionDenied, "permission_denied"},
    {Code::kResourceExhausted, "resource_exhausted"},
    {Code::kUnavailable, "unavailable"},
    {Code::kDeadlineExceeded, "deadline_exceeded"},
    {Code::kAborted, "aborted"},
    {Code::kCancelled, "cancelled"},
    {Code::kInternal, "internal"},
}};

}  // namespace

std::string_view to_string(Code code) noexcept {
  for (const CodeName& c : kCodeNames) {
    if (c.code == code)
      return c.name;
  }
  return "internal";
}

std::optional<Code> parse_code(std::string_view text) noexcept {
  for (const CodeName& c : kCodeNames) {
    if (c.name == text)
      return c.code;
  }
  return std::nullopt;
}

void to_json(nlohmann::json& j, Code code) {
  j = to_string(code);
}

void from_json(const nlohmann::json& j, Code& code) {
  const std::optional<Code> known =
      j.is_string() ? parse_code(j.get_ref<const std::string&>()) : std::nullopt;
  if (!known)
    throw std::invalid_argument("not a canonical error code: " + j.dump());
  code = *known;
}

bool retryable_by_default(Code code) noexcept {
  return code == Code::kUnavailable || code == Code::kDeadlineExceeded || code == Code::kAborted ||
         code == Code::kResourceExhausted;
}

Error Error::of(Code code, std::string message) {
  return Error{code, std::move(message), retryable_by_default(code)};
}

Error Error::invalid(std::string message, std::vector<FieldError> fields) {
  return Error{Code::kInvalidArgument, std::move(message), false, std::move(fields)};
}

Error Error::with_retryable(bool retry) && {
  retryable = retry;
  return std::move(*this);
}

Error Error::from_exception(const std::exception& e) {
  if (const auto* ee = dynamic_cast<const ErrorException*>(&e))
    return ee->error();
  return Error::of(Code::kInternal, e.what());
}

nlohmann::json Error::to_json() const {
  nlohmann::json j{{"code", to_string(code)}, {"message", message}, {"retryable", retryable}};
  if (!fields.empty()) {
    auto& arr = j["fields"] = nlohmann::json::array();
    for (const auto& f : fields)
      arr.push_back({{"field", f.field}, {"message", f.message}});
  }
  return j;
}

Error Error::from_json(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("code") || !j["code"].is_string()) {
    throw std::invalid_argument("error value needs a string 'code'");
  }
  const std::string& text = j["code"].get_ref<const std::string&>();
  std::optional<Code> code = parse_code(text);
  if (!code)
    throw std::invalid_argument("unknown error code '" + text + "'");
  // Every member is checked for its type: the value comes off the wire, and a wrong type is
  // a refusal, never a JSON exception thrown from deep inside a consumer.
  auto text_member = [](const nlohmann::json& obj, const char* name) -> std::string {
    auto it = obj.find(name);
    if (it == obj.end() || it->is_null())
      return {};
    if (!it->is_string())
      throw std::invalid_argument(std::string("error value's '") + name + "' must be a string");
    return it->get<std::string>();
  };
  Error e;
  e.code = *code;
  e.message = text_member(j, "message");
  e.retryable = retryable_by_default(e.code);
  if (auto it = j.find("retryable"); it != j.end() && !it->is_null()) {
    if (!it->is_boolean())
      throw std::invalid_argument("error value's 'retryable' must be a boolean");
    e.retryable = it->get<bool>();
  }
  if (auto it = j.find("fields"); it != j.end() && !it->is_null()) {
    if (!it->is_array())
      throw std::invalid_argument("error value's 'fields' must be an array");
    for (const auto& f : *it) {
      if (!f.is_object())
        throw std::invalid_argument("error value's 'fields' must hold objects");
      e.fields.push_back({text_member(f, "field"), text_member(f, "message")});
    }
  }
  return e;
}

}  // namespace wonderland
