// The PDF documents attached to emails: the invoice of an order confirmation and the credit note
// of a refunded return.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "wonderland/common/time.hpp"

namespace wonderland::notification {

/// One ordered title, or one returned title (then the line total is its refund).
struct InvoiceLine {
  std::string title;  ///< UTF-8.
  std::int64_t quantity = 0;
  std::int64_t unit_price_cents = 0;
  std::int64_t line_total_cents = 0;
  std::string isbn;  ///< shown under the title when set (credit notes)
  friend bool operator==(const InvoiceLine&, const InvoiceLine&) = default;
};

struct Invoice {
  std::string customer_name;  ///< UTF-8; may be empty.
  std::string customer_email;
  std::string order_id;
  SystemTime order_date{};
  std::vector<InvoiceLine> lines;
  std::int64_t total_cents = 0;
};

/// Renders `invoice` as a PDF document (A4, one or more pages) and returns its bytes.
///
/// The document shows the seller, the customer's name and email, the order id, the order date
/// (UTC), one row per line with title, quantity, unit price and line total, and the total;
/// amounts are formatted with format_money (US dollars). Text uses the PDF built-in Helvetica
/// fonts in WinAnsiEncoding, so it is extractable (e.g. by `pdftotext`) without embedding a
/// font; characters outside Windows-1252 are transliterated or replaced (see to_win_ansi). Long
/// titles wrap within their column, and rows continue on further pages, repeating the table
/// header. Throws std::runtime_error when libharu reports an error.
std::string render_invoice_pdf(const Invoice& invoice);

/// The refund of a return.
struct CreditNote {
  std::string customer_name;  ///< UTF-8; may be empty.
  std::string customer_email;
  std::string return_id;
  std::string order_id;
  SystemTime refunded_at{};
  std::vector<InvoiceLine> lines;  ///< line_total_cents is the line's refund
  std::int64_t total_cents = 0;    ///< the total refunded
};

/// Renders `note` as a PDF document laid out like the invoice: the seller, the customer, the
/// return id, the order id, the date, one row per returned line with title (and ISBN below it),
/// quantity, unit price and refund, and the total refunded. The same fonts, encoding, wrapping
/// and paging as render_invoice_pdf; throws std::runtime_error when libharu reports an error.
std::string render_credit_note_pdf(const CreditNote& note);

}  // namespace wonderland::notification
