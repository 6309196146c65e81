#include "wonderland/notification/text.hpp"

#include <array>
#include <cstdio>
#include <ctime>
#include <utility>

namespace wonderland::notification {
namespace {

constexpr char32_t kReplacement = 0xFFFD;

bool is_control(char32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp < 0xA0) || cp == 0x2028 || cp == 0x2029;
}

/// Windows-1252 bytes 0x80–0x9F and the characters they stand for (0x81, 0x8D, 0x8F, 0x90 and
/// 0x9D are unassigned).
constexpr std::array<std::pair<char32_t, unsigned char>, 27> kWin1252High{{
    {0x20AC, 0x80}, {0x201A, 0x82}, {0x0192, 0x83}, {0x201E, 0x84}, {0x2026, 0x85}, {0x2020, 0x86},
    {0x2021, 0x87}, {0x02C6, 0x88}, {0x2030, 0x89}, {0x0160, 0x8A}, {0x2039, 0x8B}, {0x0152, 0x8C},
    {0x017D, 0x8E}, {0x2018, 0x91}, {0x2019, 0x92}, {0x201C, 0x93}, {0x201D, 0x94}, {0x2022, 0x95},
    {0x2013, 0x96}, {0x2014, 0x97}, {0x02DC, 0x98}, {0x2122, 0x99}, {0x0161, 0x9A}, {0x203A, 0x9B},
    {0x0153, 0x9C}, {0x017E, 0x9E}, {0x0178, 0x9F},
}};

/// Base letters of Latin Extended-A (U+0100–U+017F), for transliteration.
constexpr std::string_view kLatinExtendedA =
    "AaAaAaCcCcCcCcDd"
    "DdEeEeEeEeEeGgGg"
    "GgGgHhHhIiIiIiIi"
    "IiIiJjKkkLlLlLlL"
    "lLlNnNnNnnNnOoOo"
    "OoOoRrRrRrSsSsSs"
    "SsTtTtTtUuUuUuUu"
    "UuUuWwYyYZzZzZzs";

/// A close ASCII stand-in for a few common characters outside Windows-1252; 0 when none.
char transliterate(char32_t cp) {
  if (cp >= 0x0100 && cp <= 0x017F)
    return kLatinExtendedA[cp - 0x0100];
  switch (cp) {
    case 0x2010:
    case 0x2011:
    case 0x2012:
    case 0x2015:
    case 0x2212:
    case 0x2043:
      return '-';
    case 0x201B:
    case 0x2032:
    case 0x02BC:
    case 0x02B9:
      return '\'';
    case 0x201F:
    case 0x2033:
    case 0x02BA:
      return '"';
    case 0x2000:
    case 0x2001:
    case 0x2002:
    case 0x2003:
    case 0x2004:
    case 0x2005:
    case 0x2006:
    case 0x2007:
    case 0x2008:
    case 0x2009:
    case 0x200A:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return ' ';
    case 0x2044:
    case 0x2215:
      return '/';
    case 0x0218:
      return 'S';
    case 0x0219:
      return 's';
    case 0x021A:
      return 'T';
    case 0x021B:
      return 't';
    default:
      return 0;
  }
}

}  // namespace

namespace detail {

char32_t decode_one(std::string_view s, std::size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  std::size_t len = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    ++i;
    return kReplacement;
  }
  if (i + len > s.size()) {
    ++i;
    return kReplacement;
  }
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) {
      ++i;
      return kReplacement;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++i;
    return kReplacement;
  }
  i += len;
  return cp;
}

}  // namespace detail

void append_utf8(std::string& out, char32_t cp) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    cp = kReplacement;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string format_money(std::int64_t cents) {
  const bool negative = cents < 0;
  // Work on the magnitude as unsigned so that INT64_MIN does not overflow.
  const std::uint64_t magnitude =
      negative ? static_cast<std::uint64_t>(-(cents + 1)) + 1 : static_cast<std::uint64_t>(cents);
  const std::string dollars = std::to_string(magnitude / 100);
  const std::uint64_t rest = magnitude % 100;
  std::string out = negative ? "-$" : "$";
  for (std::size_t i = 0; i < dollars.size(); ++i) {
    if (i > 0 && (dollars.size() - i) % 3 == 0)
      out.push_back(',');
    out.push_back(dollars[i]);
  }
  out.push_back('.');
  out.push_back(static_cast<char>('0' + rest / 10));
  out.push_back(static_cast<char>('0' + rest % 10));
  return out;
}

std::string format_utc_minute(SystemTime t) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d UTC", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min);
  return buf;
}

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string single_line(std::string_view utf8) {
  std::string out;
  out.reserve(utf8.size());
  for_each_code_point(utf8, [&](char32_t cp) { append_utf8(out, is_control(cp) ? U' ' : cp); });
  const auto first = out.find_first_not_of(' ');
  if (first == std::string::npos)
    return {};
  const auto last = out.find_last_not_of(' ');
  return out.substr(first, last - first + 1);
}

std::string clean_text(std::string_view utf8) {
  std::string out;
  out.reserve(utf8.size());
  char32_t previous = 0;
  for_each_code_point(utf8, [&](char32_t cp) {
    if (cp == U'\r') {
      out.push_back('\n');
    } else if (cp == U'\n') {
      if (previous != U'\r')
        out.push_back('\n');
    } else if (cp == U'\t' || !is_control(cp)) {
      append_utf8(out, cp);
    }
    previous = cp;
  });
  return out;
}

std::string to_win_ansi(std::string_view utf8) {
  std::string out;
  out.reserve(utf8.size());
  for_each_code_point(utf8, [&](char32_t cp) {
    if (is_control(cp)) {
      out.push_back(' ');
      return;
    }
    if (cp < 0x80 || (cp >= 0xA0 && cp <= 0xFF)) {
      out.push_back(static_cast<char>(static_cast<unsigned char>(cp)));
      return;
    }
    for (const auto& [unicode, byte] : kWin1252High) {
      if (unicode == cp) {
        out.push_back(static_cast<char>(byte));
        return;
      }
    }
    const char ascii = transliterate(cp);
    out.push_back(ascii != 0 ? ascii : '?');
  });
  return out;
}

}  // namespace wonderland::notification
