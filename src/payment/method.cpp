#include "wonderland/payment/method.hpp"

#include <ctime>
#include <optional>
#include <utility>

#include "wonderland/common/request_fields.hpp"

namespace wonderland::payment {

std::string to_string(Method m) {
  switch (m) {
    case Method::kVisa:
      return "visa";
    case Method::kMastercard:
      return "mastercard";
    case Method::kPaypal:
      return "paypal";
  }
  return "unknown";
}

std::optional<Method> parse_method(std::string_view name) {
  if (name == "visa")
    return Method::kVisa;
  if (name == "mastercard")
    return Method::kMastercard;
  if (name == "paypal")
    return Method::kPaypal;
  return std::nullopt;
}

std::string PaymentMethod::masked() const {
  if (method == Method::kPaypal) {
    auto at = paypal_email.find('@');
    if (at == std::string::npos || at == 0)
      return "***";
    return paypal_email.substr(0, 1) + "***" + paypal_email.substr(at);
  }
  if (card_number.size() < 4)
    return "****";
  return "**** **** **** " + card_number.substr(card_number.size() - 4);
}

std::string PaymentMethod::last4() const {
  if (method == Method::kPaypal || card_number.size() < 4)
    return {};
  return card_number.substr(card_number.size() - 4);
}

namespace {

bool all_digits(std::string_view s) {
  if (s.empty())
    return false;
  for (char c : s) {
    if (c < '0' || c > '9')
      return false;
  }
  return true;
}

int prefix_number(std::string_view digits, std::size_t n) {
  int v = 0;
  for (std::size_t i = 0; i < n && i < digits.size(); ++i)
    v = v * 10 + (digits[i] - '0');
  return v;
}

}  // namespace

bool luhn_valid(std::string_view digits) {
  if (digits.size() < 2 || !all_digits(digits))
    return false;
  int sum = 0;
  bool dbl = false;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    int d = *it - '0';
    if (dbl) {
      d *= 2;
      if (d > 9)
        d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return sum % 10 == 0;
}

bool is_visa(std::string_view digits) {
  if (!all_digits(digits) || digits[0] != '4')
    return false;
  return digits.size() == 13 || digits.size() == 16 || digits.size() == 19;
}

bool is_mastercard(std::string_view digits) {
  if (!all_digits(digits) || digits.size() != 16)
    return false;
  int two = prefix_number(digits, 2);
  int four = prefix_number(digits, 4);
  return (two >= 51 && two <= 55) || (four >= 2221 && four <= 2720);
}

namespace {

enum class ExpiryCheck { kOk, kMalformed, kExpired, kTooFar };

ExpiryCheck check_expiry(std::string_view expiry, SystemTime now) {
  if (expiry.size() != 5 || expiry[2] != '/' || !all_digits(expiry.substr(0, 2)) ||
      !all_digits(expiry.substr(3, 2))) {
    return ExpiryCheck::kMalformed;
  }
  int month = prefix_number(expiry.substr(0, 2), 2);
  int year = 2000 + prefix_number(expiry.substr(3, 2), 2);
  if (month < 1 || month > 12)
    return ExpiryCheck::kMalformed;
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  gmtime_r(&t, &utc);
  int current = (utc.tm_year + 1900) * 12 + utc.tm_mon;  // months since year 0
  int card = year * 12 + (month - 1);
  if (card < current)
    return ExpiryCheck::kExpired;
  if (card > current + 20 * 12)
    return ExpiryCheck::kTooFar;
  return ExpiryCheck::kOk;
}

}  // namespace

bool expiry_valid(std::string_view expiry, SystemTime now) {
  return check_expiry(expiry, now) == ExpiryCheck::kOk;
}

bool is_valid_email(std::string_view email) {
  if (email.empty() || email.size() > 254)
    return false;
  auto at = email.find('@');
  if (at == std::string_view::npos || at == 0 || email.find('@', at + 1) != std::string_view::npos)
    return false;
  if (at > 64)
    return false;
  for (char c : email) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '\x7f' || c == ',' || c == ';' || c == '<' ||
        c == '>' || c == '"' || c == '(' || c == ')' || c == '[' || c == ']' || c == '\\') {
      return false;
    }
  }
  std::string_view domain = email.substr(at + 1);
  if (domain.find('.') == std::string_view::npos)
    return false;
  std::size_t start = 0;
  while (start <= domain.size()) {
    std::size_t dot = domain.find('.', start);
    std::size_t end = dot == std::string_view::npos ? domain.size() : dot;
    std::string_view label = domain.substr(start, end - start);
    if (label.empty() || label.front() == '-' || label.back() == '-')
      return false;
    for (char c : label) {
      bool ok =
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
      if (!ok)
        return false;
    }
    if (dot == std::string_view::npos)
      break;
    start = dot + 1;
  }
  return true;
}

namespace {

/// The string at `key`, or nullopt when absent, null or not a string.
std::optional<std::string> text(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string())
    return std::nullopt;
  return it->get<std::string>();
}

/// The name of the payment object's field `name` in field errors: "<prefix>.<name>".
std::string field_name(const std::string& prefix, const std::string& name) {
  return prefix + "." + name;
}

/// Whether `key` is one of kPaymentKeys.
bool is_payment_key(const std::string& key) {
  bool known = false;
  for (const char* k : kPaymentKeys)
    known = known || key == k;
  return known;
}

/// Whether an unknown key may be echoed back in its field error: short and plain, so that
/// hostile input is not.
bool is_plain_key(const std::string& key) {
  bool plain = key.size() <= 40;
  for (char c : key)
    plain = plain && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
  return plain;
}

/// A field error for every key of `j` outside kPaymentKeys.
std::vector<FieldError> unknown_keys(const nlohmann::json& j, const std::string& prefix) {
  std::vector<FieldError> fields;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    if (is_payment_key(key))
      continue;
    if (is_plain_key(key))
      fields.push_back({field_name(prefix, key), "is not a known field"});
    else
      fields.push_back({prefix, "has an unknown field"});
  }
  return fields;
}

/// The fields of one payment object being read: the method read so far and the problems found.
struct MethodReader {
  const nlohmann::json& j;
  const std::string& prefix;
  PaymentMethod pm;
  std::vector<FieldError> fields;

  void fail(const char* name, std::string message) {
    fields.push_back({field_name(prefix, name), std::move(message)});
  }

  void read_paypal_email();
  void read_card_number();
  void read_expiry(SystemTime now);
  void read_cvv();
  Result<PaymentMethod> result() {
    if (!fields.empty())
      return invalid_fields(std::move(fields));
    return std::move(pm);
  }
};

void MethodReader::read_paypal_email() {
  std::optional<std::string> email = text(j, "paypal_email");
  if (!email || email->empty()) {
    fail("paypal_email", "is required");
  } else if (!is_valid_email(*email)) {
    fail("paypal_email", "is not a valid email address");
  } else {
    pm.paypal_email = *email;
  }
}

/// The digits of `number` with spaces and dashes removed; nullopt when anything else is left.
std::optional<std::string> card_digits(const std::string& number) {
  std::string digits;
  bool only_digits = true;
  for (char c : number) {
    if (c == ' ' || c == '-')
      continue;
    if (c < '0' || c > '9')
      only_digits = false;
    digits += c;
  }
  if (!only_digits || digits.empty())
    return std::nullopt;
  return digits;
}

void MethodReader::read_card_number() {
  std::optional<std::string> number = text(j, "card_number");
  if (!number || number->empty()) {
    fail("card_number", "is required");
    return;
  }
  std::optional<std::string> digits = card_digits(*number);
  const bool visa = pm.method == Method::kVisa;
  if (!digits) {
    fail("card_number", "must contain only digits");
  } else if (visa && !is_visa(*digits)) {
    fail("card_number", "is not a Visa card number (starts with 4; 13, 16 or 19 digits)");
  } else if (!visa && !is_mastercard(*digits)) {
    fail("card_number", "is not a Mastercard number (starts with 51-55 or 2221-2720; 16 digits)");
  } else if (!luhn_valid(*digits)) {
    fail("card_number", "is not a valid card number");
  } else {
    pm.card_number = std::move(*digits);
  }
}

void MethodReader::read_expiry(SystemTime now) {
  std::optional<std::string> expiry = text(j, "expiry");
  if (!expiry || expiry->empty()) {
    fail("expiry", "is required");
    return;
  }
  switch (check_expiry(*expiry, now)) {
    case ExpiryCheck::kOk:
      pm.expiry = *expiry;
      break;
    case ExpiryCheck::kMalformed:
      fail("expiry", "must be MM/YY");
      break;
    case ExpiryCheck::kExpired:
      fail("expiry", "has expired");
      break;
    case ExpiryCheck::kTooFar:
      fail("expiry", "is too far in the future");
      break;
  }
}

void MethodReader::read_cvv() {
  std::optional<std::string> cvv = text(j, "cvv");
  if (!cvv || cvv->empty()) {
    fail("cvv", "is required");
  } else if (cvv->size() != 3 || !all_digits(*cvv)) {
    fail("cvv", "must be exactly 3 digits");
  } else {
    pm.cvv = *cvv;
  }
}

}  // namespace

Result<PaymentMethod> parse_payment_method(const nlohmann::json& j, SystemTime now,
                                           const std::string& prefix) {
  if (j.is_null())
    return invalid_fields({{prefix, "is required"}});
  if (!j.is_object())
    return invalid_fields({{prefix, "must be an object {method, ...}"}});
  if (std::vector<FieldError> unknown = unknown_keys(j, prefix); !unknown.empty())
    return invalid_fields(std::move(unknown));

  std::optional<std::string> name = text(j, "method");
  std::optional<Method> method = name ? parse_method(*name) : std::nullopt;
  if (!method) {
    return invalid_fields(
        {{field_name(prefix, "method"), "must be one of visa, mastercard, paypal"}});
  }
  MethodReader reader{j, prefix, PaymentMethod{}, {}};
  reader.pm.method = *method;
  if (*method == Method::kPaypal) {
    reader.read_paypal_email();
  } else {
    reader.read_card_number();
    reader.read_expiry(now);
    reader.read_cvv();
  }
  return reader.result();
}

}  // namespace wonderland::payment
