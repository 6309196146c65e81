// Payment methods and their validation: card numbers (Luhn, brand, length), expiry, CVV and
// PayPal addresses. Pure functions, no I/O.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wonderland/common/error.hpp"
#include "wonderland/common/time.hpp"

namespace wonderland::payment {

enum class Method { kVisa, kMastercard, kPaypal };

/// "visa", "mastercard" or "paypal".
std::string to_string(Method m);
/// The method named "visa", "mastercard" or "paypal"; nullopt for any other name.
std::optional<Method> parse_method(std::string_view name);

/// A validated payment method. The full card number and CVV live only in memory for the length
/// of one request; only `masked()` may be stored or logged.
struct PaymentMethod {
  Method method = Method::kVisa;
  std::string card_number;  ///< digits only (spaces and dashes removed); empty for PayPal
  std::string expiry;       ///< "MM/YY"; empty for PayPal
  std::string cvv;          ///< empty for PayPal
  std::string paypal_email;

  /// Cards: "**** **** **** 4242" (last four digits only). PayPal: the address with its local
  /// part hidden but for the first character, "j***@example.com".
  std::string masked() const;
  /// The last four digits of the card number; empty for PayPal.
  std::string last4() const;
};

/// The keys a payment object may carry; any other one is refused.
inline constexpr const char* kPaymentKeys[] = {"method", "card_number", "expiry", "cvv",
                                               "paypal_email"};

/// Whether `digits` (ASCII digits only, at least 2) passes the Luhn checksum.
bool luhn_valid(std::string_view digits);

/// Whether `digits` has a Visa prefix and length: starts with 4; 13, 16 or 19 digits.
bool is_visa(std::string_view digits);
/// Whether `digits` has a Mastercard prefix and length: 51-55 or 2221-2720; 16 digits.
bool is_mastercard(std::string_view digits);

/// Whether `expiry` is "MM/YY" (01-12) for the month of `now` (UTC) or a later one, and at most
/// 20 years ahead. A card is valid through the last day of its expiry month.
bool expiry_valid(std::string_view expiry, SystemTime now);

/// Whether `email` looks like a deliverable address: one '@', a non-empty local part, a domain
/// with at least one dot and no empty labels, no spaces, at most 254 characters.
bool is_valid_email(std::string_view email);

/// Validates a PaymentMethod object `{method, card_number?, expiry?, cvv?, paypal_email?}`.
/// Every problem found becomes a FieldError named `<prefix>.<field>` (e.g.
/// `payment.card_number`); the result is invalid_argument carrying all of them. A key outside
/// kPaymentKeys is an error named `<prefix>.<key>`. Card fields are ignored for PayPal and the
/// PayPal address for cards. Messages never contain the number.
Result<PaymentMethod> parse_payment_method(const nlohmann::json& j, SystemTime now,
                                           const std::string& prefix = "payment");

}  // namespace wonderland::payment
