#include "wonderland/mediator/redact.hpp"

#include <string>
#include <vector>

#include "wonderland/common/json_text.hpp"

namespace wonderland::mediator {
namespace {

using nlohmann::json;

std::string mask_digits(const std::string& number) {
  std::string digits;
  for (char c : number) {
    if (c >= '0' && c <= '9')
      digits.push_back(c);
  }
  // Already masked ("**** **** **** 4242"): keep it as it is.
  if (number.find('*') != std::string::npos && digits.size() <= 4)
    return number;
  if (digits.size() < 12)
    return "****";
  return "**** **** **** " + digits.substr(digits.size() - 4);
}

std::string mask_email(const std::string& email) {
  auto at = email.find('@');
  if (at == std::string::npos || at == 0)
    return "***";
  return email.substr(0, 1) + "***" + email.substr(at);
}

bool is_secret_key(const std::string& key) {
  return key == "card_number" || key == "paypal_email" || key == "expiry" || key == "cvv" ||
         key == "password" || key == "token" || key == "payment_token";
}

/// Whether redact_in_place would change anything in `v`.
bool needs_redaction(const json& v) {
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (is_secret_key(it.key()) || needs_redaction(*it))
        return true;
    }
  } else if (v.is_array()) {
    for (const auto& item : v) {
      if (needs_redaction(item))
        return true;
    }
  }
  return false;
}

void redact_in_place(json& v) {
  if (v.is_object()) {
    std::vector<std::string> removed;
    for (auto it = v.begin(); it != v.end(); ++it) {
      const std::string& key = it.key();
      if (key == "card_number" && it->is_string()) {
        *it = mask_digits(it->get<std::string>());
      } else if (key == "paypal_email" && it->is_string()) {
        *it = mask_email(it->get<std::string>());
      } else if (key == "expiry") {
        removed.push_back(key);
      } else if (key == "cvv" || key == "password" || key == "token" || key == "payment_token") {
        *it = "[redacted]";
      } else {
        redact_in_place(*it);
      }
    }
    for (const auto& key : removed)
      v.erase(key);
  } else if (v.is_array()) {
    for (auto& item : v)
      redact_in_place(item);
  }
}

bool is_card_data(const json& v) {
  return v.is_object() &&
         (v.contains("card_number") || v.contains("cvv") || v.contains("paypal_email"));
}

/// Whether `v` holds card data that was never masked.
bool is_raw_card_data(const json& v) {
  if (!is_card_data(v))
    return false;
  auto unmasked = [&](const char* key) {
    auto it = v.find(key);
    return it != v.end() && it->is_string() &&
           it->get<std::string>().find('*') == std::string::npos;
  };
  return v.contains("cvv") || v.contains("expiry") || unmasked("card_number") ||
         unmasked("paypal_email");
}

bool scrub_in_place(json& v) {
  bool changed = false;
  if (v.is_object()) {
    if (is_card_data(v)) {
      if (auto it = v.find("card_number"); it != v.end() && it->is_string()) {
        std::string masked = mask_digits(it->get<std::string>());
        if (masked != it->get<std::string>()) {
          *it = std::move(masked);
          changed = true;
        }
      }
      if (auto it = v.find("paypal_email"); it != v.end() && it->is_string()) {
        if (it->get<std::string>().find('*') == std::string::npos) {
          *it = mask_email(it->get<std::string>());
          changed = true;
        }
      }
      if (v.erase("cvv") > 0)
        changed = true;
      if (v.erase("expiry") > 0)
        changed = true;
    }
    for (auto& [key, item] : v.items()) {
      (void)key;
      if (scrub_in_place(item))
        changed = true;
    }
  } else if (v.is_array()) {
    for (auto& item : v) {
      if (scrub_in_place(item))
        changed = true;
    }
  }
  return changed;
}

}  // namespace

json redact(const json& value) {
  json copy = value;
  redact_in_place(copy);
  return copy;
}

void append_redacted_json(std::string& out, const json& value) {
  if (needs_redaction(value)) {
    append_json(out, redact(value));
  } else {
    append_json(out, value);
  }
}

bool scrub_card_data(json& data,
                     const std::function<std::string(const json& payment)>& fingerprint) {
  bool changed = false;
  if (auto input = data.find("input"); input != data.end() && input->is_object()) {
    auto payment = input->find("payment");
    auto hash = input->find("request_hash");
    if (payment != input->end() && is_raw_card_data(*payment) && hash != input->end() &&
        hash->is_string()) {
      std::string fresh = fingerprint(*payment);  // from the raw payment, as a replay computes it
      if (fresh != hash->get<std::string>()) {
        *hash = std::move(fresh);
        changed = true;
      }
    }
  }
  return scrub_in_place(data) || changed;
}

}  // namespace wonderland::mediator
