#include "wonderland/notification/events.hpp"

#include <iterator>

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

std::vector<InvoiceLine> parse_items(const Event& e, const json& body) {
  const char* key = body.contains("items") ? "items" : "lines";
  auto it = body.find(key);
  if (it == body.end() || it->is_null())
    invalid(e, "'items' is missing");
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
    line.title = single_line(optional_string(e, item, "title"));
    if (line.title.empty())
      line.title = single_line(optional_string(e, item, "isbn"));
    if (line.title.empty())
      invalid(e, "'" + where + ".title' is missing");
    line.quantity = required_int(e, item, "quantity", 1, kMaxQuantity);
    line.unit_price_cents = required_int(e, item, "unit_price_cents", 0, kMaxCents);
    const auto total = item.find("line_total_cents");
    line.line_total_cents =
        (total == item.end() ? std::nullopt
                             : optional_int(e, *total, "line_total_cents", 0, kMaxCents))
            .value_or(line.quantity * line.unit_price_cents);
    lines.push_back(std::move(line));
  }
  return lines;
}

/// The kind of notification an event type becomes; InvalidEvent for any other type.
Kind kind_of(const Event& e) {
  if (e.type == events::kCustomerSignedUp)
    return Kind::kWelcome;
  if (e.type == events::kOrderConfirmed)
    return Kind::kOrderConfirmed;
  if (e.type == events::kOrderFailed)
    return Kind::kOrderFailed;
  if (e.type == events::kOrderRefunded)
    return Kind::kOrderRefunded;
  invalid(e, "no notification is sent for this event type");
}

/// The lines, total and time of an order.confirmed body.
void read_confirmed(Event& e, const json& body) {
  e.items = parse_items(e, body);
  std::int64_t sum = 0;
  for (const InvoiceLine& l : e.items)
    sum += l.line_total_cents;
  const auto total = body.find("total_cents");
  e.total_cents =
      (total == body.end() ? std::nullopt : optional_int(e, *total, "total_cents", 0, kMaxCents))
          .value_or(sum);
  const std::string confirmed_at = optional_string(e, body, "confirmed_at");
  e.confirmed_at = e.occurred_at;
  if (!confirmed_at.empty()) {
    auto t = parse_iso8601(confirmed_at);
    if (!t)
      invalid(e, "'confirmed_at' is not ISO-8601");
    e.confirmed_at = *t;
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
  }
  return "unknown";
}

const std::vector<std::string>& consumed_event_types() {
  static const std::vector<std::string> types(std::begin(events::kAll), std::end(events::kAll));
  return types;
}

std::string Event::key() const {
  return type + ":" + (kind == Kind::kWelcome ? customer_id : order_id);
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
  }
  return e;
}

}  // namespace wonderland::notification
