#include "wonderland/common/error.hpp"

#include <nlohmann/json.hpp>

namespace wonderland {

bool retryable_by_default(const std::string& code) {
  return code == codes::kUnavailable || code == codes::kDeadlineExceeded ||
         code == codes::kAborted || code == codes::kResourceExhausted;
}

Error Error::of(std::string code, std::string message) {
  bool retry = retryable_by_default(code);
  return Error{std::move(code), std::move(message), retry};
}

Error Error::from_exception(const std::exception& e) {
  if (const auto* ee = dynamic_cast<const ErrorException*>(&e)) return ee->error();
  return Error{codes::kInternal, e.what(), false};
}

nlohmann::json Error::to_json() const {
  nlohmann::json j{{"code", code}, {"message", message}, {"retryable", retryable}};
  if (!fields.empty()) {
    auto& arr = j["fields"] = nlohmann::json::array();
    for (const auto& f : fields) arr.push_back({{"field", f.field}, {"message", f.message}});
  }
  return j;
}

Error Error::from_json(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("code") || !j["code"].is_string()) {
    throw std::invalid_argument("error value needs a string 'code'");
  }
  Error e;
  e.code = j["code"].get<std::string>();
  e.message = j.value("message", std::string{});
  e.retryable = j.value("retryable", retryable_by_default(e.code));
  if (auto it = j.find("fields"); it != j.end() && it->is_array()) {
    for (const auto& f : *it) {
      if (f.is_object()) e.fields.push_back({f.value("field", std::string{}), f.value("message", std::string{})});
    }
  }
  return e;
}

}  // namespace wonderland
