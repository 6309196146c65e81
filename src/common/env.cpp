#include "wonderland/common/env.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace wonderland::env {
namespace {
const char* raw(const char* name) {
  const char* v = std::getenv(name);
  return (v != nullptr && *v != '\0') ? v : nullptr;
}
[[noreturn]] void bad(const char* name, const char* v, const char* what) {
  throw std::invalid_argument(std::string("environment variable ") + name + "='" + v + "' is not " +
                              what);
}
}  // namespace

std::string get(const char* name, const std::string& fallback) {
  const char* v = raw(name);
  return v != nullptr ? std::string(v) : fallback;
}

std::int64_t get_int(const char* name, std::int64_t fallback) {
  const char* v = raw(name);
  if (v == nullptr)
    return fallback;
  char* end = nullptr;
  long long n = std::strtoll(v, &end, 10);
  if (end == v || *end != '\0')
    bad(name, v, "an integer");
  return n;
}

std::int64_t get_int_in_range(const char* name, std::int64_t fallback, std::int64_t min,
                              std::int64_t max) {
  const std::int64_t v = get_int(name, fallback);
  if (v < min || v > max) {
    throw std::invalid_argument(std::string("environment variable ") + name + "=" +
                                std::to_string(v) + " is out of range " + std::to_string(min) +
                                ".." + std::to_string(max));
  }
  return v;
}

bool get_bool(const char* name, bool fallback) {
  const char* v = raw(name);
  if (v == nullptr)
    return fallback;
  std::string s(v);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  if (s == "1" || s == "true" || s == "yes" || s == "on")
    return true;
  if (s == "0" || s == "false" || s == "no" || s == "off")
    return false;
  bad(name, v, "a boolean");
}

std::chrono::milliseconds get_ms(const char* name, std::chrono::milliseconds fallback) {
  auto n = get_int(name, fallback.count());
  if (n < 0)
    bad(name, raw(name), "a non-negative number of milliseconds");
  return std::chrono::milliseconds(n);
}

double get_fraction(const char* name, double fallback) {
  const char* v = raw(name);
  if (v == nullptr)
    return fallback;
  char* end = nullptr;
  double d = std::strtod(v, &end);
  if (end == v || *end != '\0' || d < 0.0 || d > 1.0)
    bad(name, v, "a fraction between 0 and 1");
  return d;
}

}  // namespace wonderland::env
