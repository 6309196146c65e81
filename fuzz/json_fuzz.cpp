// Fuzz target: the fast JSON parse against the reference one. Whatever parse_json_fast accepts,
// check_json_limits and nlohmann::json::parse must accept too and give the same document: the
// fast path may only change the cost of a parse, never its outcome. The first field picks
// small limits (depth, string bytes, values), so that the limit paths are reached too.
#include <cstdint>
#include <string>

#include "fuzz_input.hpp"
#include "wonderland/common/json_limits.hpp"
#include "wonderland/common/json_parse.hpp"

using nlohmann::json;
using wonderland::JsonLimits;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0)
    return 0;
  // One byte of limits, then the text.
  const unsigned knob = data[0];
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  JsonLimits limits = JsonLimits::http();
  if (knob & 1u) {
    limits.max_depth = 1 + (knob >> 1) % 8;
    limits.max_string_bytes = 1 + (knob >> 4);
    limits.max_elements = 1 + (knob >> 3);
  }
  auto fast = wonderland::parse_json_fast(text, limits);
  if (!fast)
    return 0;
  WONDERLAND_FUZZ_CHECK(!wonderland::check_json_limits(text, limits));
  json reference = json::parse(text, nullptr, false);
  WONDERLAND_FUZZ_CHECK(!reference.is_discarded());
  WONDERLAND_FUZZ_CHECK(*fast == reference);
  WONDERLAND_FUZZ_CHECK(fast->dump() == reference.dump());
  return 0;
}
