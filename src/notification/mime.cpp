#include "wonderland/notification/mime.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <stdexcept>

#include "wonderland/notification/text.hpp"

namespace wonderland::notification {
namespace {

constexpr std::string_view kCrlf = "\r\n";
constexpr std::size_t kMaxLine = 78;
constexpr std::size_t kMaxEncodedWord = 75;
constexpr std::string_view kWordStart = "=?UTF-8?B?";
constexpr std::string_view kWordEnd = "?=";

bool printable_ascii(char c) {
  return c >= 0x20 && c <= 0x7E;
}

/// RFC 5322 atext plus space: a display name made only of these needs no quoting.
bool plain_phrase_char(char c) {
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
    return true;
  return std::string_view(" !#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

bool forbidden_in_address(char c) {
  return !printable_ascii(c) ||
         std::string_view(" \"<>(),;:[]\\").find(c) != std::string_view::npos;
}

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

std::string hex64(std::uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4)
    out[static_cast<std::size_t>(i)] = kDigits[v & 0xF];
  return out;
}

/// '=' followed by '_' never occurs in quoted-printable or base64 output, so a boundary starting
/// with "=_" cannot collide with any encoded part.
std::string boundary(const EmailMessage& m, char level) {
  return std::string("=_wl_") + hex64(fnv1a(m.message_id)) + "_" + level;
}

void check_message_id(std::string_view id) {
  const auto at = id.find('@');
  bool ok = !id.empty() && id.size() <= 250 && at != std::string_view::npos && at > 0 &&
            at + 1 < id.size() && id.find('@', at + 1) == std::string_view::npos;
  for (char c : id)
    ok = ok && !forbidden_in_address(c);
  if (!ok)
    throw std::invalid_argument("invalid Message-ID '" + std::string(id) + "'");
}

std::string safe_filename(std::string_view name) {
  std::string out;
  for (char c : name) {
    const bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-';
    out.push_back(keep ? c : '_');
  }
  return out.empty() ? std::string("attachment") : out;
}

void check_content_type(std::string_view type) {
  const auto slash = type.find('/');
  bool ok = slash != std::string_view::npos && slash > 0 && slash + 1 < type.size();
  for (char c : type)
    ok = ok && printable_ascii(c) &&
         std::string_view(" \"();:,<>@[]\\=?").find(c) == std::string_view::npos;
  if (!ok)
    throw std::invalid_argument("invalid content type '" + std::string(type) + "'");
}

void header(std::string& out, std::string_view name, std::string_view value) {
  out.append(name).append(": ").append(value).append(kCrlf);
}

/// Breaks a plain printable-ASCII value at spaces so that lines stay within 78 characters
/// where words allow it.
std::string fold_plain(std::string_view value, std::size_t offset) {
  std::string out;
  std::size_t column = offset;
  std::size_t start = 0;
  bool first = true;
  while (start <= value.size()) {
    auto space = value.find(' ', start);
    if (space == std::string_view::npos)
      space = value.size();
    const std::string_view word = value.substr(start, space - start);
    if (first) {
      out.append(word);
      column += word.size();
      first = false;
    } else if (column + 1 + word.size() > kMaxLine && column > 1) {
      out.append(kCrlf).append(" ").append(word);
      column = 1 + word.size();
    } else {
      out.append(" ").append(word);
      column += 1 + word.size();
    }
    start = space + 1;
  }
  return out;
}

std::string encoded_words(std::string_view utf8, std::size_t offset) {
  // Raw bytes per word: the base64 text of n bytes is 4*ceil(n/3) characters.
  auto budget = [](std::size_t room) {
    const std::size_t chars =
        room > kWordStart.size() + kWordEnd.size() ? room - kWordStart.size() - kWordEnd.size() : 0;
    return std::max<std::size_t>(chars / 4 * 3, 12);
  };
  const std::size_t first_room =
      offset < kMaxLine ? std::min(kMaxLine - offset, kMaxEncodedWord) : 0;
  std::size_t limit = budget(first_room);
  std::string out;
  std::string chunk;
  auto flush = [&] {
    if (chunk.empty())
      return;
    if (!out.empty())
      out.append(kCrlf).append(" ");
    out.append(kWordStart).append(base64(chunk, 0)).append(kWordEnd);
    chunk.clear();
    limit = budget(kMaxEncodedWord);
  };
  std::string bytes;
  for_each_code_point(utf8, [&](char32_t cp) {
    bytes.clear();
    append_utf8(bytes, cp);
    if (chunk.size() + bytes.size() > limit)
      flush();
    chunk += bytes;
  });
  flush();
  return out;
}

std::string alternative_body(const EmailMessage& m, const std::string& b) {
  std::string out;
  out.append("--").append(b).append(kCrlf);
  header(out, "Content-Type", "text/plain; charset=UTF-8");
  header(out, "Content-Transfer-Encoding", "quoted-printable");
  out.append(kCrlf).append(quoted_printable(m.text)).append(kCrlf);
  out.append("--").append(b).append(kCrlf);
  header(out, "Content-Type", "text/html; charset=UTF-8");
  header(out, "Content-Transfer-Encoding", "quoted-printable");
  out.append(kCrlf).append(quoted_printable(m.html)).append(kCrlf);
  out.append("--").append(b).append("--").append(kCrlf);
  return out;
}

}  // namespace

bool is_valid_address(std::string_view address) {
  if (address.empty() || address.size() > 254)
    return false;
  const auto at = address.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == address.size())
    return false;
  if (address.find('@', at + 1) != std::string_view::npos)
    return false;
  for (char c : address) {
    if (forbidden_in_address(c))
      return false;
  }
  return true;
}

Mailbox parse_mailbox(std::string_view text) {
  auto trim = [](std::string_view s) {
    const auto first = s.find_first_not_of(" \t");
    if (first == std::string_view::npos)
      return std::string_view{};
    return s.substr(first, s.find_last_not_of(" \t") - first + 1);
  };
  text = trim(text);
  Mailbox m;
  const auto open = text.rfind('<');
  if (open != std::string_view::npos && !text.empty() && text.back() == '>') {
    m.address = std::string(trim(text.substr(open + 1, text.size() - open - 2)));
    std::string_view name = trim(text.substr(0, open));
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"')
      name = name.substr(1, name.size() - 2);
    m.name = single_line(name);
  } else {
    m.address = std::string(text);
  }
  if (!is_valid_address(m.address)) {
    throw std::invalid_argument("'" + std::string(text) + "' is not a valid mailbox");
  }
  return m;
}

std::string format_mailbox(const Mailbox& mailbox) {
  if (!is_valid_address(mailbox.address)) {
    throw std::invalid_argument("'" + mailbox.address + "' is not a valid email address");
  }
  const std::string name = single_line(mailbox.name);
  if (name.empty())
    return mailbox.address;
  bool ascii = true;
  bool plain = true;
  for (char c : name) {
    ascii = ascii && printable_ascii(c);
    plain = plain && plain_phrase_char(c);
  }
  std::string phrase;
  if (plain && name.find("=?") == std::string::npos) {
    phrase = name;
  } else if (ascii && name.find("=?") == std::string::npos) {
    phrase = "\"";
    for (char c : name) {
      if (c == '"' || c == '\\')
        phrase.push_back('\\');
      phrase.push_back(c);
    }
    phrase.push_back('"');
  } else {
    phrase = encoded_words(name, 4);
  }
  return phrase + " <" + mailbox.address + ">";
}

std::string base64(std::string_view data, std::size_t line_length) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  if (line_length % 4 != 0)
    throw std::invalid_argument("base64 line length must be a multiple of 4");
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4 + (line_length ? data.size() / line_length * 2 + 2 : 0));
  std::size_t column = 0;
  auto put = [&](char c) {
    if (line_length != 0 && column == line_length) {
      out.append(kCrlf);
      column = 0;
    }
    out.push_back(c);
    ++column;
  };
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const std::uint32_t n = (static_cast<unsigned char>(data[i]) << 16) |
                            (static_cast<unsigned char>(data[i + 1]) << 8) |
                            static_cast<unsigned char>(data[i + 2]);
    put(kAlphabet[(n >> 18) & 63]);
    put(kAlphabet[(n >> 12) & 63]);
    put(kAlphabet[(n >> 6) & 63]);
    put(kAlphabet[n & 63]);
  }
  const std::size_t rest = data.size() - i;
  if (rest > 0) {
    std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(data[i])) << 16;
    if (rest == 2)
      n |= static_cast<std::uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8;
    put(kAlphabet[(n >> 18) & 63]);
    put(kAlphabet[(n >> 12) & 63]);
    put(rest == 2 ? kAlphabet[(n >> 6) & 63] : '=');
    put('=');
  }
  return out;
}

std::string quoted_printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  std::size_t start = 0;
  while (true) {
    const auto newline = text.find('\n', start);
    std::string_view line = text.substr(
        start, newline == std::string_view::npos ? std::string_view::npos : newline - start);
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    std::size_t column = 0;
    for (std::size_t i = 0; i < line.size(); ++i) {
      const char c = line[i];
      const bool last = i + 1 == line.size();
      auto token = [&](std::size_t col) -> std::string {
        const bool literal = (c > 0x20 && c < 0x7F && c != '=' && !(c == '.' && col == 0)) ||
                             ((c == ' ' || c == '\t') && !last);
        if (literal)
          return std::string(1, c);
        const auto b = static_cast<unsigned char>(c);
        return std::string{'=', kHex[b >> 4], kHex[b & 0xF]};
      };
      std::string t = token(column);
      if (column + t.size() > 75) {  // leave room for the soft break's '='
        out.append("=").append(kCrlf);
        column = 0;
        t = token(column);
      }
      out.append(t);
      column += t.size();
    }
    if (newline == std::string_view::npos)
      break;
    out.append(kCrlf);
    start = newline + 1;
  }
  return out;
}

std::string encode_header_text(std::string_view utf8, std::size_t offset) {
  const std::string value = single_line(utf8);
  bool plain = value.find("=?") == std::string::npos;
  for (char c : value)
    plain = plain && printable_ascii(c);
  if (plain) {
    // A word too long to fold within 78 characters is sent as encoded words instead.
    std::string folded = fold_plain(value, offset);
    std::size_t line = offset;
    bool fits = true;
    for (std::size_t i = 0; i < folded.size(); ++i) {
      if (folded[i] == '\r') {
        fits = fits && line <= 78;
        line = 0;
        ++i;  // the LF
      } else {
        ++line;
      }
    }
    if (fits && line <= 78)
      return folded;
  }
  return encoded_words(value, offset);
}

std::string rfc5322_date(SystemTime t) {
  static constexpr std::array<const char*, 7> kDays{"Sun", "Mon", "Tue", "Wed",
                                                    "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> kMonths{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000",
                kDays[static_cast<std::size_t>(tm.tm_wday)], tm.tm_mday,
                kMonths[static_cast<std::size_t>(tm.tm_mon)], tm.tm_year + 1900, tm.tm_hour,
                tm.tm_min, tm.tm_sec);
  return buf;
}

std::string render_message(const EmailMessage& m) {
  check_message_id(m.message_id);
  std::string out;
  header(out, "From", format_mailbox(m.from));
  header(out, "To", format_mailbox(m.to));
  header(out, "Subject", encode_header_text(m.subject, 9));
  header(out, "Date", rfc5322_date(m.date));
  // Never folded, even past 78 characters (check_message_id keeps it far below 998): a msg-id
  // cannot be broken inside, and some parsers keep the whitespace of a fold before it, which
  // would defeat clients that recognise a resent message by its exact Message-ID.
  header(out, "Message-ID", "<" + m.message_id + ">");
  header(out, "MIME-Version", "1.0");
  for (const auto& [name, value] : m.extra_headers) {
    bool ok = !name.empty() && name.size() < 70;
    for (char c : name)
      ok = ok && c > 0x20 && c < 0x7F && c != ':';
    for (char c : value)
      ok = ok && printable_ascii(c);
    if (!ok)
      throw std::invalid_argument("invalid header field '" + name + "'");
    header(out, name, value);
  }
  const std::string alt = boundary(m, 'a');
  if (m.attachments.empty()) {
    header(out, "Content-Type", "multipart/alternative; boundary=\"" + alt + "\"");
    out.append(kCrlf).append("This is a multi-part message in MIME format.").append(kCrlf);
    out.append(alternative_body(m, alt));
    return out;
  }
  const std::string mixed = boundary(m, 'm');
  header(out, "Content-Type", "multipart/mixed; boundary=\"" + mixed + "\"");
  out.append(kCrlf).append("This is a multi-part message in MIME format.").append(kCrlf);
  out.append("--").append(mixed).append(kCrlf);
  header(out, "Content-Type", "multipart/alternative; boundary=\"" + alt + "\"");
  out.append(kCrlf).append(alternative_body(m, alt));
  for (const Attachment& a : m.attachments) {
    check_content_type(a.content_type);
    const std::string name = safe_filename(a.filename);
    out.append(kCrlf).append("--").append(mixed).append(kCrlf);
    // Parameters go on continuation lines: a long file name would overrun 78 characters.
    header(out, "Content-Type", a.content_type + ";\r\n name=\"" + name + "\"");
    header(out, "Content-Disposition", "attachment;\r\n filename=\"" + name + "\"");
    header(out, "Content-Transfer-Encoding", "base64");
    out.append(kCrlf).append(base64(a.data, 76)).append(kCrlf);
  }
  out.append("--").append(mixed).append("--").append(kCrlf);
  return out;
}

}  // namespace wonderland::notification
