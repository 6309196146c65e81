#include "wonderland/notification/events.hpp"

#include <cstdio>
#include <ctime>

#include "wonderland/common/ids.hpp"
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

std::string short_id(const std::string& id) {
  return id.substr(0, 8);
}

std::string order_date(SystemTime t) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d UTC", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min);
  return buf;
}

std::string greeting_name(const Event& e) {
  return e.first_name.empty() ? std::string("there") : e.first_name;
}

/// Plain text turned into HTML paragraphs (escaped; single line breaks become <br>).
std::string paragraphs(const std::string& text) {
  std::string out;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find("\n\n", start);
    if (end == std::string::npos)
      end = text.size();
    std::string para = html_escape(text.substr(start, end - start));
    std::string with_breaks;
    for (char c : para) {
      if (c == '\n') {
        with_breaks += "<br>\n";
      } else {
        with_breaks.push_back(c);
      }
    }
    if (!with_breaks.empty())
      out += "<p style=\"margin:0 0 16px\">" + with_breaks + "</p>\n";
    start = end + 2;
  }
  return out;
}

std::string html_page(const std::string& subject, const std::string& content) {
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" +
         html_escape(subject) +
         "</title>\n</head>\n"
         "<body style=\"margin:0;padding:24px;background:#f6f1e7;color:#2b2b2b;"
         "font-family:Georgia,'Times New Roman',serif;font-size:16px;line-height:1.5\">\n"
         "<div style=\"max-width:600px;margin:0 auto;background:#ffffff;padding:24px 32px;"
         "border:1px solid #e4dccb\">\n"
         "<h1 style=\"font-size:22px;margin:0 0 24px;color:#5b3a8c\">Wonderland Bookstore</h1>\n" +
         content +
         "<p style=\"margin:32px 0 0;font-size:12px;color:#7a7a7a\">You receive this email because "
         "of an "
         "action on your Wonderland Bookstore account. This mailbox is not monitored.</p>\n"
         "</div>\n</body>\n</html>\n";
}

const std::string kSignature = "Happy reading,\nWonderland Bookstore";

Content welcome(const Event& e) {
  Content c;
  c.subject = "Welcome to Wonderland Bookstore, " + greeting_name(e) + "!";
  std::string body = "Hello " + greeting_name(e) + ",\n\n";
  body += e.username.empty() ? std::string("Your Wonderland Bookstore account is ready.")
                             : "Your Wonderland Bookstore account \"" + e.username + "\" is ready.";
  body += " Browse the shelves, fill your basket and we will take care of the rest.\n\n" +
          kSignature + "\n";
  c.text = body;
  c.html = html_page(c.subject, paragraphs(body));
  return c;
}

Content confirmed(const Event& e) {
  Content c;
  c.subject = "Your Wonderland order " + short_id(e.order_id) + " is confirmed";
  const std::string filename = "invoice-" + e.order_id + ".pdf";
  std::string intro =
      "Hello " + greeting_name(e) +
      ",\n\nThank you for your order. Your payment has been received and your books are on "
      "their way.\n\nOrder: " +
      e.order_id + "\nDate: " + order_date(e.confirmed_at);
  std::string lines;
  std::string rows;
  for (const InvoiceLine& l : e.items) {
    lines += "- " + l.title + "\n  " + std::to_string(l.quantity) + " x " +
             format_money(l.unit_price_cents) + " = " + format_money(l.line_total_cents) + "\n";
    rows += "<tr><td style=\"padding:4px 8px 4px 0\">" + html_escape(l.title) +
            "</td><td style=\"padding:4px 8px;text-align:right\">" + std::to_string(l.quantity) +
            "</td><td style=\"padding:4px 8px;text-align:right\">" +
            format_money(l.unit_price_cents) +
            "</td><td style=\"padding:4px 0 4px 8px;text-align:right\">" +
            format_money(l.line_total_cents) + "</td></tr>\n";
  }
  const std::string total = "Total: " + format_money(e.total_cents);
  const std::string outro =
      "Your invoice is attached (" + filename + "). All amounts are in US dollars.";
  c.text = intro + "\n\n" + lines + "\n" + total + "\n\n" + outro + "\n\n" + kSignature + "\n";
  const std::string th =
      "<th style=\"padding:4px 8px;text-align:right;border-bottom:1px solid #ccc\">";
  std::string table =
      "<table style=\"border-collapse:collapse;width:100%;margin:0 0 16px\">\n<thead><tr>"
      "<th style=\"padding:4px 8px 4px 0;text-align:left;border-bottom:1px solid "
      "#ccc\">Title</th>" +
      th + "Qty</th>" + th + "Unit price</th>" + th + "Line total</th></tr></thead>\n<tbody>\n" +
      rows +
      "</tbody>\n<tfoot><tr><td colspan=\"3\" style=\"padding:8px 8px 0 "
      "0;text-align:right;font-weight:bold;"
      "border-top:1px solid #ccc\">Total</td><td style=\"padding:8px 0 0 "
      "8px;text-align:right;font-weight:bold;"
      "border-top:1px solid #ccc\">" +
      format_money(e.total_cents) + "</td></tr></tfoot>\n</table>\n";
  c.html =
      html_page(c.subject, paragraphs(intro) + table + paragraphs(outro + "\n\n" + kSignature));

  Invoice invoice;
  invoice.customer_name = e.full_name();
  invoice.customer_email = e.email;
  invoice.order_id = e.order_id;
  invoice.order_date = e.confirmed_at;
  invoice.lines = e.items;
  invoice.total_cents = e.total_cents;
  c.attachment = Attachment{filename, "application/pdf", render_invoice_pdf(invoice)};
  return c;
}

Content failed(const Event& e) {
  Content c;
  c.subject = "We could not complete your Wonderland order " + short_id(e.order_id);
  std::string body =
      "Hello " + greeting_name(e) + ",\n\nWe are sorry: we could not complete your order " +
      e.order_id + ".\n\nReason: " + e.reason +
      "\n\nIf a payment was taken for this order, it is refunded in full and you will receive a "
      "separate confirmation. Your basket is unchanged, so you can try again at any time.\n\n" +
      kSignature + "\n";
  c.text = body;
  c.html = html_page(c.subject, paragraphs(body));
  return c;
}

Content refunded(const Event& e) {
  Content c;
  c.subject = "Your refund for Wonderland order " + short_id(e.order_id);
  std::string body =
      "Hello " + greeting_name(e) + ",\n\nWe have refunded " + format_money(e.refunded_cents) +
      " for order " + e.order_id +
      " to your original payment method. It may take a few days to appear on your statement.\n\n" +
      kSignature + "\n";
  c.text = body;
  c.html = html_page(c.subject, paragraphs(body));
  return c;
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
  static const std::vector<std::string> types{"customer.signed_up", "order.confirmed",
                                              "order.failed", "order.refunded"};
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
  if (e.type == "customer.signed_up") {
    e.kind = Kind::kWelcome;
  } else if (e.type == "order.confirmed") {
    e.kind = Kind::kOrderConfirmed;
  } else if (e.type == "order.failed") {
    e.kind = Kind::kOrderFailed;
  } else if (e.type == "order.refunded") {
    e.kind = Kind::kOrderRefunded;
  } else {
    invalid(e, "no notification is sent for this event type");
  }
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
    case Kind::kOrderConfirmed: {
      e.items = parse_items(e, body);
      std::int64_t sum = 0;
      for (const InvoiceLine& l : e.items)
        sum += l.line_total_cents;
      const auto total = body.find("total_cents");
      e.total_cents = (total == body.end() ? std::nullopt
                                           : optional_int(e, *total, "total_cents", 0, kMaxCents))
                          .value_or(sum);
      const std::string confirmed_at = optional_string(e, body, "confirmed_at");
      e.confirmed_at = e.occurred_at;
      if (!confirmed_at.empty()) {
        auto t = parse_iso8601(confirmed_at);
        if (!t)
          invalid(e, "'confirmed_at' is not ISO-8601");
        e.confirmed_at = *t;
      }
      break;
    }
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

Content compose(const Event& event) {
  switch (event.kind) {
    case Kind::kWelcome:
      return welcome(event);
    case Kind::kOrderConfirmed:
      return confirmed(event);
    case Kind::kOrderFailed:
      return failed(event);
    case Kind::kOrderRefunded:
      return refunded(event);
  }
  throw std::logic_error("unknown notification kind");
}

}  // namespace wonderland::notification
