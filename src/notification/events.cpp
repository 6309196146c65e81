#include "wonderland/notification/events.hpp"

#include <iterator>
#include <utility>

#include "wonderland/common/ids.hpp"
#include "wonderland/notification/protocol.hpp"
#include "wonderland/notification/text.hpp"

namespace wonderland::notification {
namespace {

using nlohmann::json;

constexpr std::int64_t kMaxCents = 1'000'000'000'000;  // ten billion dollars: beyond any order
constexpr std::int64_t kMaxQuantity = 100'000;
constexpr std::size_t kMaxItems = 1000;

[[noreturn]] void invalid(const Event& e, const std::string& what) {
  throw InvalidEvent(e.type + " event " + e.message_id + ": " + what);
}

/// An optional string field: empty when absent or null; InvalidEvent when of another type.
std::string optional_string(const Event& e, const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null())
    return {};
  if (!it->is_string())
    invalid(e, std::string("'") + key + "' must be a string");
  return it->get<std::string>();
}

std::string required_string(const Event& e, const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null())
    invalid(e, std::string("'") + key + "' is missing");
  std::string value = optional_string(e, body, key);
  if (value.empty())
    invalid(e, std::string("'") + key + "' is empty");
  return value;
}

std::optional<std::int64_t> optional_int(const Event& e, const json& value, const std::string& key,
                                         std::int64_t min, std::int64_t max) {
  if (value.is_null())
    return std::nullopt;
  if (!value.is_number_integer())
    invalid(e, "'" + key + "' must be an integer");
  if (value.is_number_unsigned() && value.get<std::uint64_t>() > static_cast<std::uint64_t>(max)) {
    invalid(e, "'" + key + "' is out of range");
  }
  const auto n = value.get<std::int64_t>();
  if (n < min || n > max) {
    invalid(e,
            "'" + key + "' must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return n;
}

std::int64_t required_int(const Event& e, const json& object, const std::string& key,
                          std::int64_t min, std::int64_t max) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null())
    invalid(e, "'" + key + "' is missing");
  return *optional_int(e, *it, key, min, max);
}

bool valid_order_id(const std::string& id) {
  if (id.empty() || id.size() > 64)
    return false;
  for (char c : id) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok)
      return false;
  }
  return true;
}

/// The lines of an order or a return: the array `key` of `{title, quantity ≥ 1,
/// unit_price_cents ≥ 0, <total_key>?}` (the total defaults to quantity × unit price). With
/// `with_isbn` each line needs an `isbn`, which is kept and stands in for a missing title;
/// without, the isbn is only that stand-in.
std::vector<InvoiceLine> parse_lines(const Event& e, const json& body, const char* key,
                                     const char* total_key, bool with_isbn) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null())
    invalid(e, std::string("'") + key + "' is missing");
  if (!it->is_array())
    invalid(e, std::string("'") + key + "' must be an array");
  if (it->empty())
    invalid(e, std::string("'") + key + "' is empty");
  if (it->size() > kMaxItems)
    invalid(e, std::string("'") + key + "' has more than 1000 lines");
  std::vector<InvoiceLine> lines;
  for (std::size_t i = 0; i < it->size(); ++i) {
    const json& item = (*it)[i];
    const std::string where = std::string(key) + "[" + std::to_string(i) + "]";
    if (!item.is_object())
      invalid(e, "'" + where + "' must be an object");
    InvoiceLine line;
    const std::string isbn = single_line(optional_string(e, item, "isbn"));
    if (with_isbn) {
      if (isbn.empty())
        invalid(e, "'" + where + ".isbn' is missing");
      line.isbn = isbn;
    }
    line.title = single_line(optional_string(e, item, "title"));
    if (line.title.empty())
      line.title = isbn;
    if (line.title.empty())
      invalid(e, "'" + where + ".title' is missing");
    line.quantity = required_int(e, item, "quantity", 1, kMaxQuantity);
    line.unit_price_cents = required_int(e, item, "unit_price_cents", 0, kMaxCents);
    const auto total = item.find(total_key);
    line.line_total_cents =
        (total == item.end() ? std::nullopt : optional_int(e, *total, total_key, 0, kMaxCents))
            .value_or(line.quantity * line.unit_price_cents);
    lines.push_back(std::move(line));
  }
  return lines;
}

/// The optional amount `key` of the body, defaulting to the sum of the lines' totals.
std::int64_t total_of(const Event& e, const json& body, const char* key,
                      const std::vector<InvoiceLine>& lines) {
  std::int64_t sum = 0;
  for (const InvoiceLine& l : lines)
    sum += l.line_total_cents;
  const auto total = body.find(key);
  return (total == body.end() ? std::nullopt : optional_int(e, *total, key, 0, kMaxCents))
      .value_or(sum);
}

/// The optional time `key` of the body (ISO-8601).
std::optional<SystemTime> optional_time(const Event& e, const json& body, const char* key) {
  const std::string text = optional_string(e, body, key);
  if (text.empty())
    return std::nullopt;
  auto t = parse_iso8601(text);
  if (!t)
    invalid(e, std::string("'") + key + "' is not ISO-8601");
  return t;
}

/// The kind of notification an event type becomes; InvalidEvent for any other type.
Kind kind_of(const Event& e) {
  static const std::pair<const char*, Kind> kKinds[] = {
      {events::kCustomerSignedUp, Kind::kWelcome},
      {events::kOrderConfirmed, Kind::kOrderConfirmed},
      {events::kOrderFailed, Kind::kOrderFailed},
      {events::kOrderRefunded, Kind::kOrderRefunded},
      {events::kReturnRequested, Kind::kReturnRequested},
      {events::kReturnRefunded, Kind::kReturnRefunded},
      {events::kReturnExpired, Kind::kReturnExpired},
  };
  for (const auto& [type, kind] : kKinds) {
    if (e.type == type)
      return kind;
  }
  invalid(e, "no notification is sent for this event type");
}

/// The lines, total and time of an order.confirmed body.
void read_confirmed(Event& e, const json& body) {
  const bool lines_only = !body.contains("items") && body.contains("lines");
  e.items = parse_lines(e, body, lines_only ? "lines" : "items", "line_total_cents", false);
  e.total_cents = total_of(e, body, "total_cents", e.items);
  e.confirmed_at = optional_time(e, body, "confirmed_at").value_or(e.occurred_at);
}

/// The return id, and the lines and refund or the parcel deadline, of a return.* body.
void read_return(Event& e, const json& body) {
  e.return_id = required_string(e, body, "return_id");
  if (!is_uuid(e.return_id))
    invalid(e, "'return_id' is not a UUID");
  if (e.kind != Kind::kReturnExpired) {
    e.items = parse_lines(e, body, "lines", "refund_cents", true);
    e.refund_cents = total_of(e, body, "refund_cents", e.items);
  }
  if (e.kind != Kind::kReturnRefunded) {
    auto deadline = optional_time(e, body, "parcel_deadline");
    if (!deadline)
      invalid(e, "'parcel_deadline' is missing");
    e.parcel_deadline = *deadline;
  }
}

}  // namespace

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::kWelcome:
      return "welcome";
    case Kind::kOrderConfirmed:
      return "order_confirmed";
    case Kind::kOrderFailed:
      return "order_failed";
    case Kind::kOrderRefunded:
      return "order_refunded";
    case Kind::kReturnRequested:
      return "return_requested";
    case Kind::kReturnRefunded:
      return "return_refunded";
    case Kind::kReturnExpired:
      return "return_expired";
  }
  return "unknown";
}

const std::vector<std::string>& consumed_event_types() {
  static const std::vector<std::string> types(std::begin(events::kAll), std::end(events::kAll));
  return types;
}

bool Event::is_return() const {
  return kind == Kind::kReturnRequested || kind == Kind::kReturnRefunded ||
         kind == Kind::kReturnExpired;
}

std::string Event::key() const {
  if (kind == Kind::kWelcome)
    return type + ":" + customer_id;
  return type + ":" + (is_return() ? return_id : order_id);
}

std::string Event::full_name() const {
  if (first_name.empty())
    return last_name;
  if (last_name.empty())
    return first_name;
  return first_name + " " + last_name;
}

Event parse_event(const messaging::Envelope& envelope) {
  Event e;
  e.type = envelope.type;
  e.message_id = envelope.message_id;
  e.idempotency_key = envelope.idempotency_key;
  e.occurred_at = parse_iso8601(envelope.timestamp).value_or(SystemTime{});
  e.kind = kind_of(e);
  if (e.occurred_at == SystemTime{})
    invalid(e, "the envelope's timestamp is not ISO-8601");
  const json& body = envelope.body;
  if (!body.is_object())
    invalid(e, "the body is not a JSON object");

  e.customer_id = required_string(e, body, "customer_id");
  if (!is_uuid(e.customer_id))
    invalid(e, "'customer_id' is not a UUID");
  e.email = optional_string(e, body, "email");
  if (e.email.empty() && e.kind != Kind::kOrderRefunded) {
    invalid(e, "'email' is missing: there is no address to send the notification to");
  }
  if (!e.email.empty() && !is_valid_address(e.email))
    invalid(e, "'email' is not a deliverable address");
  e.first_name = single_line(optional_string(e, body, "first_name"));
  e.last_name = single_line(optional_string(e, body, "last_name"));
  e.username = single_line(optional_string(e, body, "username"));
  if (e.kind != Kind::kWelcome) {
    e.order_id = required_string(e, body, "order_id");
    if (!valid_order_id(e.order_id))
      invalid(e, "'order_id' is not a valid order id");
  }
  switch (e.kind) {
    case Kind::kWelcome:
      break;
    case Kind::kOrderConfirmed:
      read_confirmed(e, body);
      break;
    case Kind::kOrderFailed:
      e.reason = clean_text(optional_string(e, body, "reason"));
      if (e.reason.find_first_not_of(" \t\n") == std::string::npos)
        e.reason = "the order could not be completed";
      break;
    case Kind::kOrderRefunded:
      e.refunded_cents = required_int(e, body, "refunded_cents", 1, kMaxCents);
      break;
    case Kind::kReturnRequested:
    case Kind::kReturnRefunded:
    case Kind::kReturnExpired:
      read_return(e, body);
      break;
  }
  return e;
}

}  // namespace wonderland::notification
