// The email each notification kind becomes: subject, plain text, HTML and, for a confirmed
// order, the PDF invoice; for a refunded return, the PDF credit note.
#include <utility>

#include "wonderland/notification/events.hpp"
#include "wonderland/notification/invoice.hpp"
#include "wonderland/notification/text.hpp"

namespace wonderland::notification {
namespace {

std::string short_id(const std::string& id) {
  return id.substr(0, 8);
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

/// A message of plain paragraphs: the text, and the same as HTML.
Content plain(std::string subject, std::string body) {
  Content c;
  c.html = html_page(subject, paragraphs(body));
  c.subject = std::move(subject);
  c.text = std::move(body);
  return c;
}

Content welcome(const Event& e) {
  std::string body = "Hello " + greeting_name(e) + ",\n\n";
  body += e.username.empty() ? std::string("Your Wonderland Bookstore account is ready.")
                             : "Your Wonderland Bookstore account \"" + e.username + "\" is ready.";
  body += " Browse the shelves, fill your basket and we will take care of the rest.\n\n" +
          kSignature + "\n";
  return plain("Welcome to Wonderland Bookstore, " + greeting_name(e) + "!", std::move(body));
}

/// A line's title as the emails show it: with its ISBN when the line has one.
std::string line_title(const InvoiceLine& l) {
  return l.isbn.empty() ? l.title : l.title + " (ISBN " + l.isbn + ")";
}

/// A message listing `lines` between the paragraphs `intro` and `outro`: in the text one entry a
/// line and a `<total_label>: <total>` line, in the HTML a table whose last column is
/// `amount_column` with the total in its footer.
Content with_lines(std::string subject, const std::string& intro,
                   const std::vector<InvoiceLine>& lines, const std::string& amount_column,
                   const std::string& total_label, std::int64_t total, const std::string& outro) {
  std::string text_lines;
  std::string rows;
  for (const InvoiceLine& l : lines) {
    text_lines += "- " + line_title(l) + "\n  " + std::to_string(l.quantity) + " x " +
                  format_money(l.unit_price_cents) + " = " + format_money(l.line_total_cents) +
                  "\n";
    rows += "<tr><td style=\"padding:4px 8px 4px 0\">" + html_escape(line_title(l)) +
            "</td><td style=\"padding:4px 8px;text-align:right\">" + std::to_string(l.quantity) +
            "</td><td style=\"padding:4px 8px;text-align:right\">" +
            format_money(l.unit_price_cents) +
            "</td><td style=\"padding:4px 0 4px 8px;text-align:right\">" +
            format_money(l.line_total_cents) + "</td></tr>\n";
  }
  Content c;
  c.text = intro + "\n\n" + text_lines + "\n" + total_label + ": " + format_money(total) + "\n\n" +
           outro + "\n\n" + kSignature + "\n";
  const std::string th =
      "<th style=\"padding:4px 8px;text-align:right;border-bottom:1px solid #ccc\">";
  std::string table =
      "<table style=\"border-collapse:collapse;width:100%;margin:0 0 16px\">\n<thead><tr>"
      "<th style=\"padding:4px 8px 4px 0;text-align:left;border-bottom:1px solid "
      "#ccc\">Title</th>" +
      th + "Qty</th>" + th + "Unit price</th>" + th + html_escape(amount_column) +
      "</th></tr></thead>\n<tbody>\n" + rows +
      "</tbody>\n<tfoot><tr><td colspan=\"3\" style=\"padding:8px 8px 0 "
      "0;text-align:right;font-weight:bold;"
      "border-top:1px solid #ccc\">" +
      html_escape(total_label) +
      "</td><td style=\"padding:8px 0 0 "
      "8px;text-align:right;font-weight:bold;"
      "border-top:1px solid #ccc\">" +
      format_money(total) + "</td></tr></tfoot>\n</table>\n";
  c.html = html_page(subject, paragraphs(intro) + table + paragraphs(outro + "\n\n" + kSignature));
  c.subject = std::move(subject);
  return c;
}

Content confirmed(const Event& e) {
  const std::string filename = "invoice-" + e.order_id + ".pdf";
  const std::string intro =
      "Hello " + greeting_name(e) +
      ",\n\nThank you for your order. Your payment has been received and your books are on "
      "their way.\n\nOrder: " +
      e.order_id + "\nDate: " + format_utc_minute(e.confirmed_at);
  Content c =
      with_lines("Your Wonderland order " + short_id(e.order_id) + " is confirmed", intro, e.items,
                 "Line total", "Total", e.total_cents,
                 "Your invoice is attached (" + filename + "). All amounts are in US dollars.");

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

Content return_requested(const Event& e) {
  const std::string intro = "Hello " + greeting_name(e) +
                            ",\n\nWe got your return request for order " + e.order_id +
                            ".\n\nReturn: " + e.return_id;
  const std::string outro = "Please send the parcel by " + format_utc_minute(e.parcel_deadline) +
                            ". Once it arrives we refund " + format_money(e.refund_cents) +
                            " to your original payment method. All amounts are in US dollars.";
  return with_lines("Your Wonderland return " + short_id(e.return_id) + ": send the parcel by " +
                        format_utc_minute(e.parcel_deadline),
                    intro, e.items, "Refund", "Refund", e.refund_cents, outro);
}

Content return_refunded(const Event& e) {
  const std::string filename = "credit-note-" + e.return_id + ".pdf";
  const std::string intro =
      "Hello " + greeting_name(e) + ",\n\nWe received your parcel and have refunded " +
      format_money(e.refund_cents) + " for order " + e.order_id +
      " to your original payment method. It may take a few days to appear on your "
      "statement.\n\nReturn: " +
      e.return_id + "\nDate: " + format_utc_minute(e.occurred_at);
  Content c =
      with_lines("We refunded " + format_money(e.refund_cents) + " for your Wonderland return " +
                     short_id(e.return_id),
                 intro, e.items, "Refund", "Total refunded", e.refund_cents,
                 "Your credit note is attached (" + filename + "). All amounts are in US dollars.");

  c.attachment = Attachment{filename, "application/pdf",
                            render_credit_note_pdf({.customer_name = e.full_name(),
                                                    .customer_email = e.email,
                                                    .return_id = e.return_id,
                                                    .order_id = e.order_id,
                                                    .refunded_at = e.occurred_at,
                                                    .lines = e.items,
                                                    .total_cents = e.refund_cents})};
  return c;
}

Content return_expired(const Event& e) {
  std::string body = "Hello " + greeting_name(e) +
                     ",\n\nWe did not receive the parcel for your return " + e.return_id +
                     " (order " + e.order_id + ") by " + format_utc_minute(e.parcel_deadline) +
                     ", so the return is closed and nothing was "
                     "refunded.\n\n" +
                     kSignature + "\n";
  return plain("Your Wonderland return " + short_id(e.return_id) + " is closed", std::move(body));
}

Content failed(const Event& e) {
  std::string body =
      "Hello " + greeting_name(e) + ",\n\nWe are sorry: we could not complete your order " +
      e.order_id + ".\n\nReason: " + e.reason +
      "\n\nIf a payment was taken for this order, it is refunded in full and you will receive a "
      "separate confirmation. Your basket is unchanged, so you can try again at any time.\n\n" +
      kSignature + "\n";
  return plain("We could not complete your Wonderland order " + short_id(e.order_id),
               std::move(body));
}

Content refunded(const Event& e) {
  std::string body =
      "Hello " + greeting_name(e) + ",\n\nWe have refunded " + format_money(e.refunded_cents) +
      " for order " + e.order_id +
      " to your original payment method. It may take a few days to appear on your statement.\n\n" +
      kSignature + "\n";
  return plain("Your refund for Wonderland order " + short_id(e.order_id), std::move(body));
}

}  // namespace

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
    case Kind::kReturnRequested:
      return return_requested(event);
    case Kind::kReturnRefunded:
      return return_refunded(event);
    case Kind::kReturnExpired:
      return return_expired(event);
  }
  throw std::logic_error("unknown notification kind");
}

}  // namespace wonderland::notification
