#include "wonderland/mediator/redact.hpp"

#include <string>

namespace wonderland::mediator {
namespace {

std::string mask_digits(const std::string& number) {
  std::string digits;
  for (char c : number) {
    if (c >= '0' && c <= '9') digits.push_back(c);
  }
  if (digits.size() < 12) return "****";
  return "**** **** **** " + digits.substr(digits.size() - 4);
}

void redact_in_place(nlohmann::json& v) {
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      const std::string& key = it.key();
      if (key == "card_number" && it->is_string()) {
        *it = mask_digits(it->get<std::string>());
      } else if (key == "cvv" || key == "password" || key == "token") {
        *it = "[redacted]";
      } else {
        redact_in_place(*it);
      }
    }
  } else if (v.is_array()) {
    for (auto& item : v) redact_in_place(item);
  }
}

}  // namespace

nlohmann::json redact(const nlohmann::json& value) {
  nlohmann::json copy = value;
  redact_in_place(copy);
  return copy;
}

}  // namespace wonderland::mediator
