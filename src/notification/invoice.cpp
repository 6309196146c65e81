#include "wonderland/notification/invoice.hpp"

#include <hpdf.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

#include "wonderland/notification/text.hpp"

namespace wonderland::notification {
namespace {

constexpr HPDF_REAL kLeft = 50;
constexpr HPDF_REAL kRight = 545;
constexpr HPDF_REAL kTop = 790;
constexpr HPDF_REAL kBottom = 90;
constexpr HPDF_REAL kLeading = 14;
constexpr HPDF_REAL kTitleWidth = 260;
constexpr HPDF_REAL kQuantityRight = 365;
constexpr HPDF_REAL kUnitRight = 455;
constexpr HPDF_REAL kBodySize = 10;

struct ErrorState {
  HPDF_STATUS code = HPDF_OK;
  HPDF_STATUS detail = HPDF_OK;
};

// libharu reports errors through this callback (C code: it must not throw). The first error is
// kept and turned into an exception by Pdf::check.
void HPDF_STDCALL on_error(HPDF_STATUS code, HPDF_STATUS detail, void* user) noexcept {
  auto* state = static_cast<ErrorState*>(user);
  if (state->code == HPDF_OK) {
    state->code = code;
    state->detail = detail;
  }
}

/// One libharu document; freed on destruction. No HPDF handle leaves this file.
class Pdf {
 public:
  Pdf() : doc_(HPDF_New(&on_error, &error_)) {
    if (doc_ == nullptr)
      throw std::runtime_error("libharu could not create a PDF document");
    HPDF_SetCompressionMode(doc_, HPDF_COMP_ALL);
    regular_ = HPDF_GetFont(doc_, "Helvetica", "WinAnsiEncoding");
    bold_ = HPDF_GetFont(doc_, "Helvetica-Bold", "WinAnsiEncoding");
    check("loading the fonts");
  }
  ~Pdf() { HPDF_Free(doc_); }
  Pdf(const Pdf&) = delete;
  Pdf& operator=(const Pdf&) = delete;

  void check(const char* what) const {
    if (error_.code == HPDF_OK)
      return;
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  "PDF generation failed while %s: libharu error 0x%04X (detail %u)", what,
                  static_cast<unsigned>(error_.code), static_cast<unsigned>(error_.detail));
    throw std::runtime_error(buf);
  }

  void info(HPDF_InfoType type, const std::string& value) {
    HPDF_SetInfoAttr(doc_, type, value.c_str());
  }

  void new_page() {
    page_ = HPDF_AddPage(doc_);
    HPDF_Page_SetSize(page_, HPDF_PAGE_SIZE_A4, HPDF_PAGE_PORTRAIT);
    check("adding a page");
  }

  /// Text in Windows-1252 (already converted), at the baseline `y`.
  void text(HPDF_REAL x, HPDF_REAL y, const std::string& win_ansi, bool bold = false,
            HPDF_REAL size = kBodySize) {
    HPDF_Page_BeginText(page_);
    HPDF_Page_SetFontAndSize(page_, bold ? bold_ : regular_, size);
    HPDF_Page_TextOut(page_, x, y, win_ansi.c_str());
    HPDF_Page_EndText(page_);
  }
  void text_right(HPDF_REAL right, HPDF_REAL y, const std::string& win_ansi, bool bold = false,
                  HPDF_REAL size = kBodySize) {
    text(right - width(win_ansi, bold, size), y, win_ansi, bold, size);
  }
  HPDF_REAL width(const std::string& win_ansi, bool bold = false, HPDF_REAL size = kBodySize) {
    HPDF_Page_SetFontAndSize(page_, bold ? bold_ : regular_, size);
    return HPDF_Page_TextWidth(page_, win_ansi.c_str());
  }
  void rule(HPDF_REAL y) {
    HPDF_Page_SetLineWidth(page_, 0.5);
    HPDF_Page_MoveTo(page_, kLeft, y);
    HPDF_Page_LineTo(page_, kRight, y);
    HPDF_Page_Stroke(page_);
  }

  /// Splits `win_ansi` into lines no wider than `max_width` (at spaces where possible).
  std::vector<std::string> wrap(const std::string& win_ansi, HPDF_REAL max_width) {
    HPDF_Page_SetFontAndSize(page_, regular_, kBodySize);
    std::vector<std::string> lines;
    std::string_view rest = win_ansi;
    while (!rest.empty()) {
      const std::string piece(rest);
      HPDF_REAL used = 0;
      HPDF_UINT fit = HPDF_Page_MeasureText(page_, piece.c_str(), max_width, HPDF_TRUE, &used);
      if (fit == 0)
        fit = HPDF_Page_MeasureText(page_, piece.c_str(), max_width, HPDF_FALSE, &used);
      if (fit == 0)
        fit = 1;
      std::string_view line = rest.substr(0, fit);
      while (!line.empty() && line.back() == ' ')
        line.remove_suffix(1);
      lines.emplace_back(line);
      rest.remove_prefix(std::min<std::size_t>(fit, rest.size()));
      while (!rest.empty() && rest.front() == ' ')
        rest.remove_prefix(1);
    }
    if (lines.empty())
      lines.emplace_back();
    return lines;
  }

  std::string bytes() {
    HPDF_SaveToStream(doc_);
    check("writing the document");
    HPDF_ResetStream(doc_);
    const HPDF_UINT32 size = HPDF_GetStreamSize(doc_);
    std::string out(size, '\0');
    HPDF_UINT32 read = size;
    HPDF_ReadFromStream(doc_, reinterpret_cast<HPDF_BYTE*>(out.data()), &read);
    if (read != size)
      throw std::runtime_error("PDF generation failed: short read from libharu's stream");
    return out;
  }

 private:
  ErrorState error_;  // declared before doc_: libharu holds a pointer to it
  HPDF_Doc doc_ = nullptr;
  HPDF_Page page_ = nullptr;
  HPDF_Font regular_ = nullptr;
  HPDF_Font bold_ = nullptr;
};

/// What an invoice and a credit note share: a heading, the customer, labelled fields, the table
/// of lines and the total. Text is UTF-8.
struct Document {
  std::string info_title;   ///< the PDF's title attribute
  std::string heading;      ///< top right, e.g. "INVOICE"
  std::string party_label;  ///< e.g. "Billed to:"
  std::string customer_name;
  std::string customer_email;
  std::vector<std::pair<std::string, std::string>> fields;  ///< label and value, one row each
  std::string amount_column;  ///< the last column's title, e.g. "Line total"
  const std::vector<InvoiceLine>& lines;
  std::string total_label;
  std::int64_t total_cents = 0;
  std::string footer;
};

void table_header(Pdf& pdf, const Document& doc, HPDF_REAL& y) {
  pdf.text(kLeft, y, "Title", true);
  pdf.text_right(kQuantityRight, y, "Qty", true);
  pdf.text_right(kUnitRight, y, "Unit price", true);
  pdf.text_right(kRight, y, to_win_ansi(doc.amount_column), true);
  y -= 6;
  pdf.rule(y);
  y -= kLeading;
}

std::string render(const Document& doc) {
  Pdf pdf;
  pdf.info(HPDF_INFO_TITLE, to_win_ansi(single_line(doc.info_title)));
  pdf.info(HPDF_INFO_CREATOR, "Wonderland Bookstore");
  pdf.new_page();

  HPDF_REAL y = kTop;
  pdf.text(kLeft, y, "Wonderland Bookstore", true, 18);
  pdf.text_right(kRight, y, to_win_ansi(doc.heading), true, 18);
  y -= 40;
  const std::string name = single_line(doc.customer_name);
  pdf.text(kLeft, y, to_win_ansi(doc.party_label), true);
  pdf.text(kLeft + 90, y, to_win_ansi(name.empty() ? doc.customer_email : name));
  y -= kLeading;
  if (!name.empty() && !doc.customer_email.empty()) {
    pdf.text(kLeft + 90, y, to_win_ansi(single_line(doc.customer_email)));
    y -= kLeading;
  }
  for (const auto& [label, value] : doc.fields) {
    pdf.text(kLeft, y, to_win_ansi(label), true);
    pdf.text(kLeft + 90, y, to_win_ansi(single_line(value)));
    y -= kLeading;
  }
  y -= kLeading + 6;

  table_header(pdf, doc, y);
  for (const InvoiceLine& line : doc.lines) {
    auto rows = pdf.wrap(to_win_ansi(single_line(line.title)), kTitleWidth);
    if (!line.isbn.empty())
      rows.push_back("ISBN " + to_win_ansi(single_line(line.isbn)));
    if (y - kLeading * static_cast<HPDF_REAL>(rows.size() - 1) < kBottom) {
      pdf.new_page();
      y = kTop;
      table_header(pdf, doc, y);
    }
    pdf.text_right(kQuantityRight, y, std::to_string(line.quantity));
    pdf.text_right(kUnitRight, y, format_money(line.unit_price_cents));
    pdf.text_right(kRight, y, format_money(line.line_total_cents));
    for (const std::string& part : rows) {
      pdf.text(kLeft, y, part);
      y -= kLeading;
    }
    y -= 4;
  }
  if (y - 3 * kLeading < kBottom) {
    pdf.new_page();
    y = kTop;
  }
  pdf.rule(y + 6);
  y -= 10;
  pdf.text_right(kUnitRight, y, to_win_ansi(doc.total_label), true, 12);
  pdf.text_right(kRight, y, format_money(doc.total_cents), true, 12);
  y -= 3 * kLeading;
  pdf.text(kLeft, y, to_win_ansi(doc.footer), false, 9);
  pdf.check("drawing the document");
  return pdf.bytes();
}

}  // namespace

std::string render_invoice_pdf(const Invoice& invoice) {
  return render(Document{
      "Invoice " + invoice.order_id,
      "INVOICE",
      "Billed to:",
      invoice.customer_name,
      invoice.customer_email,
      {{"Order:", invoice.order_id}, {"Order date:", format_utc_minute(invoice.order_date)}},
      "Line total",
      invoice.lines,
      "Total",
      invoice.total_cents,
      "All amounts are in US dollars. Thank you for shopping at Wonderland Bookstore."});
}

std::string render_credit_note_pdf(const CreditNote& note) {
  return render(Document{
      "Credit note " + note.return_id,
      "CREDIT NOTE",
      "Refunded to:",
      note.customer_name,
      note.customer_email,
      {{"Return:", note.return_id},
       {"Order:", note.order_id},
       {"Date:", format_utc_minute(note.refunded_at)}},
      "Refund",
      note.lines,
      "Total refunded",
      note.total_cents,
      "All amounts are in US dollars. The total was refunded to your original payment method."});
}

}  // namespace wonderland::notification
