// The PDF invoice attached to an order confirmation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "wonderland/common/time.hpp"

namespace wonderland::notification {

/// One ordered title.
struct InvoiceLine {
  std::string title;  ///< UTF-8.
  std::int64_t quantity = 0;
  std::int64_t unit_price_cents = 0;
  std::int64_t line_total_cents = 0;
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

}  // namespace wonderland::notification
