// Order ids: a name-based UUID of the customer and their Idempotency-Key, so that the same
// checkout always names the same order.
#include <sodium.h>

#include <string>
#include <string_view>

#include "wonderland/mediator/orders.hpp"

namespace wonderland::mediator {
namespace {

/// The SHA-256 of `text`, as 64 lower-case hex digits.
std::string hex_sha256(std::string_view text) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : digest) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

}  // namespace

std::string order_id_for(const std::string& customer_id, const std::string& idempotency_key) {
  // A name-based UUID (RFC 4122 layout, SHA-256 based): the same customer and key always name
  // the same order, which makes POST /api/orders idempotent across retries and mediators.
  std::string h = hex_sha256(customer_id + "\n" + idempotency_key);
  h[12] = '8';  // version 8: custom, name-based
  const char variant[] = "89ab";
  h[16] = variant[(h[16] >= 'a' ? h[16] - 'a' + 10 : h[16] - '0') & 3];
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20, 12);
}

}  // namespace wonderland::mediator
