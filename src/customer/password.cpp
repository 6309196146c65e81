#include "wonderland/customer/password.hpp"

#include <sodium.h>

#include <array>
#include <stdexcept>

#include "wonderland/common/env.hpp"
#include "wonderland/common/ids.hpp"

namespace wonderland::customer {
namespace {

void ensure_sodium() {
  static const bool ready = sodium_init() >= 0;
  if (!ready)
    throw std::runtime_error("libsodium could not be initialised");
}

}  // namespace

PasswordPolicy PasswordPolicy::from_env() {
  PasswordPolicy p;
  const auto ops =
      env::get_int_in_range("WONDERLAND_ARGON2_OPSLIMIT", static_cast<std::int64_t>(p.opslimit),
                            static_cast<std::int64_t>(crypto_pwhash_OPSLIMIT_MIN), 64);
  const auto kib = env::get_int_in_range(
      "WONDERLAND_ARGON2_MEMLIMIT_KIB", static_cast<std::int64_t>(p.memlimit_bytes / 1024),
      static_cast<std::int64_t>(crypto_pwhash_MEMLIMIT_MIN / 1024), std::int64_t{4} * 1024 * 1024);
  p.opslimit = static_cast<unsigned long long>(ops);
  p.memlimit_bytes = static_cast<std::size_t>(kib) * 1024;
  return p;
}

PasswordPolicy PasswordPolicy::for_tests() {
  return PasswordPolicy{1, std::size_t{64} * 1024};
}

std::string hash_password(std::string_view password, const PasswordPolicy& policy) {
  ensure_sodium();
  std::array<char, crypto_pwhash_STRBYTES> out{};
  if (crypto_pwhash_str_alg(out.data(), password.data(), password.size(), policy.opslimit,
                            policy.memlimit_bytes, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    throw std::runtime_error("password hashing failed (out of memory)");
  }
  return std::string(out.data());
}

bool verify_password(const std::string& hash, std::string_view password) {
  ensure_sodium();
  if (hash.size() >= crypto_pwhash_STRBYTES)
    return false;
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

bool needs_rehash(const std::string& hash, const PasswordPolicy& policy) {
  ensure_sodium();
  return crypto_pwhash_str_needs_rehash(hash.c_str(), policy.opslimit, policy.memlimit_bytes) != 0;
}

std::string new_session_token() {
  return random_hex(32);
}

std::string token_digest(std::string_view token) {
  ensure_sodium();
  std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
  crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(token.data()),
                     token.size());
  std::array<char, crypto_hash_sha256_BYTES * 2 + 1> hex{};
  sodium_bin2hex(hex.data(), hex.size(), digest.data(), digest.size());
  return std::string(hex.data());
}

}  // namespace wonderland::customer
