#include "wonderland/customer/validation.hpp"

#include <algorithm>
#include <cctype>
#include <limits>
#include <set>

#include "wonderland/common/ids.hpp"
#include "wonderland/common/request_fields.hpp"
#include "wonderland/customer/protocol.hpp"

namespace wonderland::customer {
namespace {

const nlohmann::json kNull = nullptr;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string trim(std::string_view s) {
  std::size_t b = 0;
  std::size_t e = s.size();
  while (b < e && is_space(s[b]))
    ++b;
  while (e > b && is_space(s[e - 1]))
    --e;
  return std::string(s.substr(b, e - b));
}

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

std::size_t utf8_length(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::optional<std::string> username_problem(std::string_view username) {
  const std::string rule = "must be 3 to 32 characters: letters, digits, '_', '.' or '-'";
  if (username.size() < kUsernameMin || username.size() > kUsernameMax)
    return rule;
  for (char c : username) {
    auto u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) != 0 && u < 0x80) && c != '_' && c != '.' && c != '-')
      return rule;
  }
  return std::nullopt;
}

std::optional<std::string> email_problem(std::string_view email) {
  const std::string rule = "must be an email address such as alice@example.com";
  if (email.empty() || email.size() > 254 || has_control(email))
    return rule;
  if (std::any_of(email.begin(), email.end(), is_space))
    return rule;
  auto at = email.find('@');
  if (at == std::string_view::npos || email.find('@', at + 1) != std::string_view::npos)
    return rule;
  std::string_view local = email.substr(0, at);
  std::string_view domain = email.substr(at + 1);
  if (local.empty() || local.size() > 64 || domain.size() < 3)
    return rule;
  // The domain: dot-separated non-empty labels of letters, digits and '-', at least two labels.
  auto dot = domain.find('.');
  if (dot == std::string_view::npos)
    return rule;
  std::size_t start = 0;
  while (start <= domain.size()) {
    auto end = domain.find('.', start);
    if (end == std::string_view::npos)
      end = domain.size();
    std::string_view label = domain.substr(start, end - start);
    if (label.empty() || label.front() == '-' || label.back() == '-')
      return rule;
    for (char c : label) {
      auto u = static_cast<unsigned char>(c);
      if (!(std::isalnum(u) != 0 || c == '-' || u >= 0x80))
        return rule;
    }
    start = end + 1;
  }
  return std::nullopt;
}

std::optional<std::string> password_problem(std::string_view password) {
  std::size_t n = utf8_length(password);
  if (n < kPasswordMin)
    return "must be at least 8 characters";
  if (n > kPasswordMax)
    return "must be at most 256 characters";
  if (password.find('\0') != std::string_view::npos)
    return "must not contain NUL characters";
  return std::nullopt;
}

std::optional<std::string> phone_problem(std::string_view phone) {
  const std::string rule = "must be a phone number: digits, spaces, '+', '-', '(' or ')'";
  if (phone.size() < 6 || phone.size() > 20)
    return rule;
  int digits = 0;
  for (char c : phone) {
    if (c >= '0' && c <= '9') {
      ++digits;
    } else if (c != ' ' && c != '+' && c != '-' && c != '(' && c != ')') {
      return rule;
    }
  }
  if (digits < 6)
    return rule;
  return std::nullopt;
}

std::optional<std::string> isbn_problem(std::string_view isbn) {
  const std::string rule = "must be an ISBN: 1 to 32 letters, digits or '-'";
  if (isbn.empty() || isbn.size() > 32)
    return rule;
  for (char c : isbn) {
    auto u = static_cast<unsigned char>(c);
    if (!(u < 0x80 && std::isalnum(u) != 0) && c != '-')
      return rule;
  }
  return std::nullopt;
}

BodyReader::BodyReader(const nlohmann::json& body) : body_(body) {
  if (!body_.is_object())
    fail("body", "must be a JSON object");
}

bool BodyReader::has(const std::string& name) const {
  return body_.is_object() && body_.contains(name) && !body_.at(name).is_null();
}

const nlohmann::json& BodyReader::at(const std::string& name) const {
  return has(name) ? body_.at(name) : kNull;
}

void BodyReader::fail(std::string field, std::string message) {
  fields_.push_back(FieldError{prefix_ + std::move(field), std::move(message)});
}

std::string BodyReader::raw_string(const std::string& name, std::size_t max_chars) {
  if (!has(name)) {
    if (body_.is_object())
      fail(name, "is required");
    return {};
  }
  const auto& v = body_.at(name);
  if (!v.is_string()) {
    fail(name, "must be a string");
    return {};
  }
  auto s = v.get<std::string>();
  if (s.empty()) {
    fail(name, "is required");
    return {};
  }
  if (utf8_length(s) > max_chars) {
    fail(name, "must be at most " + std::to_string(max_chars) + " characters");
    return {};
  }
  return s;
}

std::string BodyReader::required_string(const std::string& name, std::size_t max_chars) {
  if (!has(name)) {
    if (body_.is_object())
      fail(name, "is required");
    return {};
  }
  const auto& v = body_.at(name);
  if (!v.is_string()) {
    fail(name, "must be a string");
    return {};
  }
  std::string s = trim(v.get<std::string>());
  if (s.empty()) {
    fail(name, "is required");
    return {};
  }
  if (utf8_length(s) > max_chars) {
    fail(name, "must be at most " + std::to_string(max_chars) + " characters");
    return {};
  }
  if (has_control(s)) {
    fail(name, "must not contain control characters");
    return {};
  }
  return s;
}

std::optional<std::string> BodyReader::optional_string(const std::string& name,
                                                       std::size_t max_chars) {
  if (!has(name))
    return std::nullopt;
  const auto& v = body_.at(name);
  if (!v.is_string()) {
    fail(name, "must be a string");
    return std::nullopt;
  }
  std::string s = trim(v.get<std::string>());
  if (s.empty())
    return std::nullopt;
  if (utf8_length(s) > max_chars) {
    fail(name, "must be at most " + std::to_string(max_chars) + " characters");
    return std::nullopt;
  }
  if (has_control(s)) {
    fail(name, "must not contain control characters");
    return std::nullopt;
  }
  return s;
}

std::string BodyReader::uuid(const std::string& name) {
  if (!has(name)) {
    if (body_.is_object())
      fail(name, "is required");
    return {};
  }
  const auto& v = body_.at(name);
  if (!v.is_string() || !is_uuid(v.get<std::string>())) {
    fail(name, "must be a UUID");
    return {};
  }
  return lower(v.get<std::string>());
}

std::optional<std::int64_t> BodyReader::integer(const std::string& name, std::int64_t min,
                                                std::int64_t max) {
  if (!has(name)) {
    if (body_.is_object())
      fail(name, "is required");
    return std::nullopt;
  }
  return integer_or(name, 0, min, max);
}

std::optional<std::int64_t> BodyReader::integer_or(const std::string& name, std::int64_t fallback,
                                                   std::int64_t min, std::int64_t max) {
  if (!has(name))
    return fallback;
  const auto& v = body_.at(name);
  if (!v.is_number_integer()) {
    fail(name, "must be an integer");
    return std::nullopt;
  }
  if (v.is_number_unsigned() &&
      v.get<std::uint64_t>() >
          static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    fail(name, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    return std::nullopt;
  }
  auto n = v.get<std::int64_t>();
  if (n < min || n > max) {
    fail(name, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    return std::nullopt;
  }
  return n;
}

std::optional<std::int64_t> BodyReader::cents(const std::string& name) {
  return integer(name, 0, std::numeric_limits<std::int64_t>::max());
}

std::optional<Address> BodyReader::address(const std::string& name) {
  if (!has(name)) {
    if (body_.is_object())
      fail(name, "is required");
    return std::nullopt;
  }
  const auto& v = body_.at(name);
  if (!v.is_object()) {
    fail(name, "must be an object");
    return std::nullopt;
  }
  BodyReader inner = nested(v, name + ".");
  Address a;
  a.line1 = inner.required_string("line1");
  a.line2 = inner.optional_string("line2");
  a.city = inner.required_string("city", 100);
  a.postal_code = inner.required_string("postal_code", 20);
  a.country = inner.required_string("country", 100);
  absorb(inner);
  if (!inner.ok())
    return std::nullopt;
  return a;
}

BodyReader BodyReader::nested(const nlohmann::json& value, const std::string& prefix) const {
  BodyReader inner(value);
  inner.prefix_ = prefix_ + prefix;
  return inner;
}

void BodyReader::absorb(const BodyReader& inner) {
  fields_.insert(fields_.end(), inner.fields_.begin(), inner.fields_.end());
}

Error BodyReader::error() const {
  return Error::invalid(describe_fields(fields_), fields_);
}

Result<SignUpRequest> parse_sign_up(const nlohmann::json& body) {
  BodyReader r(body);
  SignUpRequest s;
  s.username = r.required_string("username", 64);
  if (!s.username.empty()) {
    if (auto p = username_problem(s.username))
      r.fail("username", *p);
  }
  s.email = r.required_string("email", 254);
  if (!s.email.empty()) {
    if (auto p = email_problem(s.email))
      r.fail("email", *p);
  }
  s.password = r.raw_string("password", kPasswordMax);
  if (!s.password.empty()) {
    if (auto p = password_problem(s.password))
      r.fail("password", *p);
  }
  s.first_name = r.required_string("first_name", 100);
  s.last_name = r.required_string("last_name", 100);
  s.phone = r.optional_string("phone", 20);
  if (s.phone) {
    if (auto p = phone_problem(*s.phone))
      r.fail("phone", *p);
  }
  if (r.has("address"))
    s.address = r.address("address");
  if (!r.ok())
    return r.error();
  return s;
}

Result<Address> parse_address(const nlohmann::json& address, const std::string& prefix) {
  nlohmann::json wrapper = nlohmann::json::object();
  wrapper[prefix] = address;
  BodyReader r(wrapper);
  auto a = r.address(prefix);
  if (!r.ok() || !a)
    return r.error();
  return *a;
}

Result<BasketItemRequest> parse_basket_item(const nlohmann::json& body, int min_quantity,
                                            std::optional<int> default_quantity) {
  BodyReader r(body);
  BasketItemRequest b;
  b.customer_id = r.uuid("customer_id");
  b.isbn = r.required_string("isbn", 32);
  if (!b.isbn.empty()) {
    if (auto p = isbn_problem(b.isbn))
      r.fail("isbn", *p);
  }
  if (!r.has("quantity") && default_quantity) {
    b.quantity = *default_quantity;
  } else if (!r.has("quantity")) {
    r.fail("quantity", "is required");
  } else if (!r.at("quantity").is_number_integer()) {
    r.fail("quantity", "must be an integer");
  } else {
    const auto& q = r.at("quantity");
    bool too_many = q.is_number_unsigned()
                        ? q.get<std::uint64_t>() > static_cast<std::uint64_t>(kMaxCopiesPerTitle)
                        : q.get<std::int64_t>() > kMaxCopiesPerTitle;
    if (too_many) {
      r.fail("quantity", "at most " + std::to_string(kMaxCopiesPerTitle) + " copies of one title");
    } else if (q.get<std::int64_t>() < min_quantity) {
      r.fail("quantity", "must be between " + std::to_string(min_quantity) + " and " +
                             std::to_string(kMaxCopiesPerTitle));
    } else {
      b.quantity = q.get<int>();
    }
  }
  if (!r.ok())
    return r.error();
  return b;
}

Result<OrderRecord> parse_order_record(const nlohmann::json& body) {
  BodyReader r(body);
  OrderRecord o;
  o.customer_id = r.uuid("customer_id");
  o.order_id = r.uuid("order_id");
  if (!r.has("items")) {
    if (body.is_object())
      r.fail("items", "is required");
  } else if (!r.at("items").is_array()) {
    r.fail("items", "must be an array");
  } else {
    o.items = r.at("items");
  }
  if (auto t = r.cents("total_cents"))
    o.total_cents = *t;
  o.status = r.required_string("status", 32);
  if (r.has("clear_basket")) {
    if (r.at("clear_basket").is_boolean())
      o.clear_basket = r.at("clear_basket").get<bool>();
    else
      r.fail("clear_basket", "must be true or false");
  }
  if (!r.ok())
    return r.error();
  return o;
}

Result<ReturnRequest> parse_return_request(const nlohmann::json& body) {
  BodyReader r(body);
  ReturnRequest q;
  q.return_id = r.uuid("return_id");
  q.customer_id = r.uuid("customer_id");
  q.order_id = r.uuid("order_id");
  const nlohmann::json& lines = r.at("lines");
  if (!lines.is_array()) {
    if (body.is_object())
      r.fail("lines", "must be an array of {isbn, quantity}");
  } else if (lines.empty() || lines.size() > kMaxReturnLines) {
    r.fail("lines", "must have 1 to " + std::to_string(kMaxReturnLines) + " lines");
  } else {
    std::set<std::string> seen;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      const std::string name = "lines[" + std::to_string(i) + "]";
      if (!lines[i].is_object()) {
        r.fail(name, "must be an object {isbn, quantity}");
        continue;
      }
      BodyReader line = r.nested(lines[i], name + ".");
      ReturnLineRequest l;
      l.isbn = line.required_string("isbn", 32);
      if (!l.isbn.empty()) {
        if (auto p = isbn_problem(l.isbn))
          line.fail("isbn", *p);
        else if (!seen.insert(l.isbn).second)
          line.fail("isbn", "appears more than once");
      }
      if (auto n = line.integer("quantity", 1, kMaxReturnQuantity))
        l.quantity = static_cast<int>(*n);
      r.absorb(line);
      q.lines.push_back(std::move(l));
    }
  }
  return r.result(std::move(q));
}

Result<CompleteReturnRequest> parse_complete_return(const nlohmann::json& body) {
  BodyReader r(body);
  CompleteReturnRequest c;
  c.return_id = r.uuid("return_id");
  c.refund_cents = r.cents("refund_cents").value_or(0);
  return r.result(std::move(c));
}

Result<CloseReturnRequest> parse_close_return(const nlohmann::json& body) {
  BodyReader r(body);
  CloseReturnRequest c;
  c.return_id = r.uuid("return_id");
  c.status = r.required_string("status", 32);
  if (!c.status.empty() && c.status != return_status::kExpired &&
      c.status != return_status::kFailed) {
    r.fail("status", std::string("must be \"") + return_status::kExpired + "\" or \"" +
                         return_status::kFailed + "\"");
  }
  c.reason = r.optional_string("reason", kReturnReasonMax);
  return r.result(std::move(c));
}

nlohmann::json to_json(const Address& a) {
  return nlohmann::json{{"line1", a.line1},
                        {"line2", a.line2 ? nlohmann::json(*a.line2) : nlohmann::json(nullptr)},
                        {"city", a.city},
                        {"postal_code", a.postal_code},
                        {"country", a.country}};
}

}  // namespace wonderland::customer
