// Pure validation of customer command bodies (docs/commands.md, section "customer").
//
// Nothing here touches the database: each `parse_*` function reads a JSON body and returns
// either the typed request or an `invalid_argument` Error whose `fields` name every wrong input
// (nested fields are dotted: `address.city`). Strings are trimmed of surrounding white space
// before they are checked, except passwords, which are taken exactly as given.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wonderland/common/error.hpp"

namespace wonderland::customer {

/// At most this many copies of one title may be in a basket.
inline constexpr int kMaxCopiesPerTitle = 3;
/// Username length bounds, in characters.
inline constexpr std::size_t kUsernameMin = 3;
inline constexpr std::size_t kUsernameMax = 32;
/// Minimum password length, in characters (UTF-8 code points).
inline constexpr std::size_t kPasswordMin = 8;
/// Maximum password length, in characters: bounds the hashing work one request can cause.
inline constexpr std::size_t kPasswordMax = 256;
/// At most this many lines in one return.
inline constexpr std::size_t kMaxReturnLines = 100;
/// At most this many copies of one title in one return line (an order line holds fewer).
inline constexpr int kMaxReturnQuantity = 1000;
/// Maximum length of the reason a return was closed, in characters.
inline constexpr std::size_t kReturnReasonMax = 500;

/// A postal address as stored and shown: `{line1, line2, city, postal_code, country}`.
struct Address {
  std::string line1;
  std::optional<std::string> line2;
  std::string city;
  std::string postal_code;
  std::string country;
  friend bool operator==(const Address&, const Address&) = default;
};

/// A validated `customer.sign_up` body.
struct SignUpRequest {
  std::string username;  ///< as typed (case kept); unique case-insensitively
  std::string email;     ///< as typed (case kept); unique case-insensitively
  std::string password;  ///< exactly as given; never stored, never logged
  std::string first_name;
  std::string last_name;
  std::optional<std::string> phone;
  std::optional<Address> address;
};

/// A validated basket change: `customer.set_basket_item` / `customer.add_basket_item`.
struct BasketItemRequest {
  std::string customer_id;
  std::string isbn;
  int quantity = 0;
};

/// A validated `customer.record_order` body.
struct OrderRecord {
  std::string customer_id;
  std::string order_id;
  nlohmann::json items;  ///< a JSON array, stored as given
  std::int64_t total_cents = 0;
  std::string status;
  /// Also empty the customer's basket, once for this order, in the same statement.
  bool clear_basket = false;
};

/// One line of a return request: `{isbn, quantity}`.
struct ReturnLineRequest {
  std::string isbn;
  int quantity = 0;
};

/// A validated `customer.check_return` / `customer.record_return` body.
struct ReturnRequest {
  std::string return_id;
  std::string customer_id;
  std::string order_id;
  std::vector<ReturnLineRequest> lines;  ///< 1..kMaxReturnLines, distinct isbns
};

/// A validated `customer.complete_return` body.
struct CompleteReturnRequest {
  std::string return_id;
  std::int64_t refund_cents = 0;
};

/// A validated `customer.close_return` body.
struct CloseReturnRequest {
  std::string return_id;
  std::string status;  ///< return_status::kExpired or kFailed (protocol.hpp)
  std::optional<std::string> reason;
};

/// Why `username` is not acceptable (3–32 of `[A-Za-z0-9_.-]`), or nullopt when it is.
std::optional<std::string> username_problem(std::string_view username);
/// Why `email` does not look like an email address (`local@domain.tld`, ≤ 254 characters, no
/// white space), or nullopt when it does.
std::optional<std::string> email_problem(std::string_view email);
/// Why `password` is not acceptable (8–256 characters), or nullopt when it is.
std::optional<std::string> password_problem(std::string_view password);
/// Why `phone` is not acceptable (6–20 characters of digits, spaces, `+`, `-`, `(`, `)` with at
/// least 6 digits), or nullopt when it is.
std::optional<std::string> phone_problem(std::string_view phone);
/// Why `isbn` is not acceptable (1–32 characters of letters, digits and `-`), or nullopt.
std::optional<std::string> isbn_problem(std::string_view isbn);

/// The number of characters (UTF-8 code points) in `s`.
std::size_t utf8_length(std::string_view s);

/// Collects field errors while reading a JSON body; `error()` turns them into one
/// invalid_argument Error. A body that is not a JSON object is itself a field error (`body`).
class BodyReader {
 public:
  explicit BodyReader(const nlohmann::json& body);

  /// A required, trimmed, non-empty string of at most `max_chars` characters; "" when wrong.
  std::string required_string(const std::string& name, std::size_t max_chars = 200);
  /// An optional trimmed string: absent, null or empty gives nullopt.
  std::optional<std::string> optional_string(const std::string& name, std::size_t max_chars = 200);
  /// A required string taken exactly as given (no trimming); "" when wrong.
  std::string raw_string(const std::string& name, std::size_t max_chars);
  /// A required UUID (canonical form; returned lower-case); "" when wrong.
  std::string uuid(const std::string& name);
  /// A required integer in [min, max]; nullopt when wrong.
  std::optional<std::int64_t> integer(const std::string& name, std::int64_t min, std::int64_t max);
  /// An optional integer in [min, max]: absent gives `fallback`.
  std::optional<std::int64_t> integer_or(const std::string& name, std::int64_t fallback,
                                         std::int64_t min, std::int64_t max);
  /// A required amount of money in cents (an integer >= 0); nullopt when wrong.
  std::optional<std::int64_t> cents(const std::string& name);
  /// An address object under `name` (fields reported as `name.line1`, ...); nullopt when wrong.
  std::optional<Address> address(const std::string& name);
  /// Whether `name` is present and not null.
  bool has(const std::string& name) const;
  /// The raw value under `name` (null when absent).
  const nlohmann::json& at(const std::string& name) const;

  /// A reader of `value`, an object nested in this body, whose field errors are named
  /// `<prefix><field>` (e.g. `lines[0].isbn`); `absorb` takes them back into this reader.
  BodyReader nested(const nlohmann::json& value, const std::string& prefix) const;
  /// Adds the field errors of a nested reader to this one.
  void absorb(const BodyReader& inner);

  /// Records a field error.
  void fail(std::string field, std::string message);
  bool ok() const { return fields_.empty(); }
  const std::vector<FieldError>& fields() const { return fields_; }
  /// invalid_argument with every recorded field error; the message lists them.
  Error error() const;
  /// `value` when every field was right, otherwise `error()`.
  template <typename T>
  Result<T> result(T value) const {
    if (!ok())
      return error();
    return value;
  }

 private:
  const nlohmann::json& body_;
  std::string prefix_;
  std::vector<FieldError> fields_;
};

/// Validates a `customer.sign_up` body.
Result<SignUpRequest> parse_sign_up(const nlohmann::json& body);
/// Validates an address object; field errors are reported under `prefix` (e.g. `address`).
Result<Address> parse_address(const nlohmann::json& address, const std::string& prefix = "address");
/// Validates `{customer_id, isbn, quantity}`. `quantity` must be in [min_quantity, 3]; above 3
/// the field error says "at most 3 copies of one title". When `default_quantity` is set, an
/// absent quantity takes it.
Result<BasketItemRequest> parse_basket_item(const nlohmann::json& body, int min_quantity,
                                            std::optional<int> default_quantity = std::nullopt);
/// Validates a `customer.record_order` body.
Result<OrderRecord> parse_order_record(const nlohmann::json& body);

/// Validates a `customer.check_return` / `customer.record_return` body: `lines` holds
/// 1..100 objects `{isbn, quantity (>= 1)}` with distinct isbns (fields `lines[i].isbn`, ...).
Result<ReturnRequest> parse_return_request(const nlohmann::json& body);
/// Validates `{return_id, refund_cents (>= 0)}`.
Result<CompleteReturnRequest> parse_complete_return(const nlohmann::json& body);
/// Validates `{return_id, status ("expired" or "failed"), reason? (at most 500 characters)}`.
Result<CloseReturnRequest> parse_close_return(const nlohmann::json& body);

/// The JSON form of an address: `{line1, line2 (null when absent), city, postal_code, country}`.
nlohmann::json to_json(const Address& address);

}  // namespace wonderland::customer
