// Internet messages (RFC 5322) with MIME bodies (RFC 2045–2047), as the notification service
// sends them.
//
//   EmailMessage m;
//   m.from = parse_mailbox("Wonderland Bookstore <orders@wonderland.local>");
//   m.to = {"Zoë Quill", "zoe@example.com"};
//   m.subject = "Your order is confirmed";
//   m.text = "..."; m.html = "<p>...</p>";
//   m.attachments.push_back({"invoice.pdf", "application/pdf", pdf_bytes});
//   std::string wire = render_message(m);   // CRLF line endings, 7-bit clean
//
// A rendered message is 7-bit ASCII with CRLF line endings and lines of at most 78 characters
// (except a long Message-ID line, which cannot be folded; it stays far below the hard limit of
// 998), so it passes any SMTP server and is a valid `.eml` file.
// Rendering is deterministic: the same message renders to the same bytes (boundaries derive
// from the Message-ID), so a resent notification is byte-identical to the first.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wonderland/common/time.hpp"

namespace wonderland::notification {

/// A display name and an address, e.g. `Zoë Quill <zoe@example.com>`.
struct Mailbox {
  std::string name;     ///< UTF-8 display name; may be empty.
  std::string address;  ///< `local@domain`, ASCII.
  friend bool operator==(const Mailbox&, const Mailbox&) = default;
};

/// Whether `address` is a plain ASCII `local@domain` that can go into a header and an SMTP
/// command unchanged: at most 254 characters, exactly one '@' with something on both sides, and
/// no whitespace, control characters, quotes, angle brackets, parentheses, commas, semicolons,
/// colons, square brackets or backslashes.
bool is_valid_address(std::string_view address);

/// Parses `Display Name <local@domain>` or a bare `local@domain` (surrounding whitespace and
/// quotes around the name are dropped). Throws std::invalid_argument when the address is not
/// valid (see is_valid_address).
Mailbox parse_mailbox(std::string_view text);

/// The mailbox as a header value: the bare address when there is no name, otherwise the name
/// (as is when it is plain ASCII words, as a quoted string when it holds specials, as RFC 2047
/// encoded words when it is not ASCII) followed by `<address>`.
std::string format_mailbox(const Mailbox& mailbox);

/// Base64 (RFC 4648) of `data`, broken into lines of `line_length` characters separated by CRLF
/// (one line when `line_length` is 0). `line_length` must be a multiple of 4.
std::string base64(std::string_view data, std::size_t line_length = 76);

/// Quoted-printable (RFC 2045 §6.7) of UTF-8 text. Line breaks in `text` (LF or CRLF) become
/// CRLF hard breaks; longer lines get soft breaks so that no line exceeds 76 characters; '=',
/// bytes outside printable ASCII, whitespace before a line break and a '.' that starts a line
/// are escaped.
std::string quoted_printable(std::string_view text);

/// An unstructured header value (such as a Subject) ready to follow `Name: `, where `offset` is
/// the length of `Name: `. Plain printable ASCII is kept and folded at spaces to keep lines
/// within 78 characters; anything else (non-ASCII, control characters, a literal `=?`) becomes
/// RFC 2047 `=?UTF-8?B?…?=` encoded words of at most 75 characters, never splitting a UTF-8
/// sequence, separated by folding whitespace. The text is first made valid, single-line UTF-8
/// (see single_line), so the value never carries a CR or LF of its own.
std::string encode_header_text(std::string_view utf8, std::size_t offset);

/// The RFC 5322 date-time of `t` in UTC: `Thu, 26 Nov 2026 09:26:12 +0000`.
std::string rfc5322_date(SystemTime t);

/// A file attached to a message, sent base64-encoded.
struct Attachment {
  std::string filename;      ///< Kept to [A-Za-z0-9._-] (others become '_') in the headers.
  std::string content_type;  ///< e.g. `application/pdf`.
  std::string data;          ///< The raw bytes.
};

/// A message with a plain-text and an HTML alternative and optional attachments.
struct EmailMessage {
  Mailbox from;
  Mailbox to;
  std::string subject;  ///< UTF-8, one line.
  SystemTime date{};
  std::string message_id;  ///< Without the angle brackets, e.g. `order.confirmed.<id>@host`.
  std::string text;        ///< UTF-8 plain-text body.
  std::string html;        ///< UTF-8 HTML body.
  std::vector<Attachment> attachments;
  /// More header fields (name, printable-ASCII value), written after the standard ones.
  std::vector<std::pair<std::string, std::string>> extra_headers;
};

/// Renders `message`: headers From, To, Subject, Date, Message-ID, MIME-Version, the extra
/// headers, then a `multipart/alternative` body (text/plain, then text/html, both UTF-8 and
/// quoted-printable); with attachments that body is the first part of a `multipart/mixed` whose
/// further parts are the attachments (base64, `Content-Disposition: attachment`).
/// Throws std::invalid_argument when an address is invalid or the Message-ID is malformed.
std::string render_message(const EmailMessage& message);

}  // namespace wonderland::notification
