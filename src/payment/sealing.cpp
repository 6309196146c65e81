#include "sealing.hpp"

#include <sodium.h>

namespace wonderland::payment {

void wipe(std::string& s) {
  if (!s.empty())
    sodium_memzero(s.data(), s.size());
  s.clear();
}

void wipe(PaymentMethod& pm) {
  wipe(pm.card_number);
  wipe(pm.expiry);
  wipe(pm.cvv);
  wipe(pm.paypal_email);
}

std::string seal(const SecretKey& key, const std::string& plain) {
  std::string box(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plain.size(), '\0');
  auto* out = reinterpret_cast<unsigned char*>(box.data());
  randombytes_buf(out, crypto_secretbox_NONCEBYTES);
  crypto_secretbox_easy(out + crypto_secretbox_NONCEBYTES,
                        reinterpret_cast<const unsigned char*>(plain.data()), plain.size(), out,
                        key.data());
  std::string hex(2 * box.size() + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), out, box.size());
  hex.pop_back();
  return hex;
}

std::optional<std::string> open(const SecretKey& key, const std::string& sealed) {
  std::string box(sealed.size() / 2, '\0');
  std::size_t len = 0;
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(box.data()), box.size(), sealed.data(),
                     sealed.size(), nullptr, &len, nullptr) != 0 ||
      len < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
    return std::nullopt;
  }
  const auto* in = reinterpret_cast<const unsigned char*>(box.data());
  std::string plain(len - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES, '\0');
  if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(plain.data()),
                                 in + crypto_secretbox_NONCEBYTES,
                                 len - crypto_secretbox_NONCEBYTES, in, key.data()) != 0) {
    return std::nullopt;
  }
  return plain;
}

std::string hex_sha256(const std::string& text) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  char hex[2 * sizeof digest + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return hex;
}

bool is_token(const std::string& s) {
  if (s.size() != 64)
    return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
  }
  return true;
}

}  // namespace wonderland::payment
