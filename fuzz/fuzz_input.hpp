// Splits a fuzzer's input into fields, so that one byte string drives several parameters.
// Fields are separated by a NUL byte; missing fields are empty.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace wonderland::fuzz {

class FuzzInput {
 public:
  FuzzInput(const std::uint8_t* data, std::size_t size)
      : rest_(reinterpret_cast<const char*>(data), size) {}

  /// The next field (up to the next NUL or the end).
  std::string next() {
    auto nul = rest_.find('\0');
    std::string field(rest_.substr(0, nul));
    rest_ = nul == std::string_view::npos ? std::string_view() : rest_.substr(nul + 1);
    return field;
  }
  /// Everything not consumed yet, NULs included.
  std::string_view rest() const { return rest_; }
  bool empty() const { return rest_.empty(); }

 private:
  std::string_view rest_;
};

/// Aborts (a crash the fuzzer reports) when an invariant does not hold.
#define WONDERLAND_FUZZ_CHECK(cond)                                                  \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      __builtin_printf("invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      __builtin_abort();                                                             \
    }                                                                                \
  } while (0)

}  // namespace wonderland::fuzz
