#include "http_date.hpp"

#include <array>
#include <cstdio>

namespace wonderland::http::detail {

namespace {

constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

std::size_t format_into(std::time_t t, char* out, std::size_t size) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  // Built by hand: strftime's %a and %b follow the locale.
  int n = std::snprintf(out, size, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday % 7],
                        tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour,
                        tm.tm_min, tm.tm_sec);
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

int two_digits(std::string_view s, std::size_t at) {
  if (at + 2 > s.size() || s[at] < '0' || s[at] > '9' || s[at + 1] < '0' || s[at + 1] > '9') {
    return -1;
  }
  return (s[at] - '0') * 10 + (s[at + 1] - '0');
}

}  // namespace

std::string format_http_date(std::time_t t) {
  char buf[64];
  return std::string(buf, format_into(t, buf, sizeof buf));
}

std::string_view http_date_now() {
  thread_local std::time_t cached = -1;
  thread_local char buf[64];
  thread_local std::size_t len = 0;
  std::time_t now = std::time(nullptr);
  if (now != cached) {
    len = format_into(now, buf, sizeof buf);
    cached = now;
  }
  return {buf, len};
}

std::optional<std::time_t> parse_http_date(std::string_view s) {
  // "Sun, 06 Nov 1994 08:49:37 GMT"
  if (s.size() != 29 || s.substr(3, 2) != ", " || s.substr(25) != " GMT")
    return std::nullopt;
  std::tm tm{};
  tm.tm_mday = two_digits(s, 5);
  int month = -1;
  for (std::size_t i = 0; i < kMonths.size(); ++i) {
    if (s.substr(8, 3) == kMonths[i])
      month = static_cast<int>(i);
  }
  int century = two_digits(s, 12);
  int year = two_digits(s, 14);
  tm.tm_hour = two_digits(s, 17);
  tm.tm_min = two_digits(s, 20);
  tm.tm_sec = two_digits(s, 23);
  if (tm.tm_mday < 1 || month < 0 || century < 0 || year < 0 || tm.tm_hour < 0 || tm.tm_min < 0 ||
      tm.tm_sec < 0 || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':' ||
      s[22] != ':') {
    return std::nullopt;
  }
  tm.tm_mon = month;
  tm.tm_year = century * 100 + year - 1900;
  return timegm(&tm);
}

}  // namespace wonderland::http::detail
