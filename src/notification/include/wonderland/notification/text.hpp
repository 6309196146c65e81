// Text helpers for the notification service: money, HTML escaping and the UTF-8 handling that
// emails and the PDF invoice need.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "wonderland/common/time.hpp"

namespace wonderland::notification {

/// Formats integer cents as US dollars with thousands separators: 5900 → "$59.00",
/// 123456 → "$1,234.56", -5 → "-$0.05". Every amount the service shows goes through this.
std::string format_money(std::int64_t cents);

/// A time as the emails and the invoice show it, to the minute in UTC: "2024-03-01 14:05 UTC".
std::string format_utc_minute(SystemTime t);

/// Escapes `&`, `<`, `>`, `"` and `'` so that `text` is safe in HTML text and attribute values.
std::string html_escape(std::string_view text);

/// Calls `fn(char32_t)` for each character of `utf8`. A byte that does not start a valid
/// sequence (truncated, overlong, a surrogate, beyond U+10FFFF) yields U+FFFD and decoding
/// resumes at the next byte, so no input is refused.
template <class Fn>
void for_each_code_point(std::string_view utf8, Fn&& fn);

/// Appends the UTF-8 form of `cp` to `out` (U+FFFD for values that are not characters).
void append_utf8(std::string& out, char32_t cp);

/// `utf8` made valid (invalid bytes become U+FFFD) and put on one line: control characters
/// (C0, DEL, C1, and the Unicode line and paragraph separators) become spaces, and leading and
/// trailing whitespace is removed. For names, subjects and other single-line values.
std::string single_line(std::string_view utf8);

/// `utf8` made valid, with line breaks normalised to `\n` and other control characters except
/// tab removed. For multi-line free text such as a failure reason.
std::string clean_text(std::string_view utf8);

/// Converts UTF-8 to Windows-1252 (WinAnsiEncoding, which the PDF built-in fonts use; it holds
/// all of Latin-1's printable characters plus typographic quotes, dashes, €, … and a few more).
/// Characters outside it are transliterated to a close Latin letter or punctuation mark when one
/// exists (ł→l, ő→o, ‐→-, ′→'), and replaced with '?' otherwise. Control characters become spaces.
std::string to_win_ansi(std::string_view utf8);

// ---------------------------------------------------------------------------------------------

namespace detail {
/// Decodes one character at `s[i]`; advances `i` past the bytes consumed (at least one).
char32_t decode_one(std::string_view s, std::size_t& i);
}  // namespace detail

template <class Fn>
void for_each_code_point(std::string_view utf8, Fn&& fn) {
  std::size_t i = 0;
  while (i < utf8.size())
    fn(detail::decode_one(utf8, i));
}

}  // namespace wonderland::notification
