#include "wonderland/log/secrets.hpp"

namespace wonderland::log {

std::string mask_card(std::string_view number) {
  constexpr std::size_t kShortestCard = 12;
  std::size_t digits = 0;
  char last[4] = {};
  for (char c : number) {
    if (c < '0' || c > '9')
      continue;
    last[digits % 4] = c;
    ++digits;
  }
  if (digits < kShortestCard)
    return "****";
  std::string masked = "**** **** **** ";
  for (std::size_t i = 0; i < 4; ++i)
    masked += last[(digits + i) % 4];
  return masked;
}

}  // namespace wonderland::log
