// Secret keys (the payment service's card-data key, the mediator's order fingerprint key): held
// in memory only inside SecretKey, which zeroes its bytes when it goes, and read from an
// environment variable (hex) or from a key file that is created, mode 0600, with random bytes
// when missing.
//
//   SecretKey key = SecretKey::resolve(env::get("X_KEY", ""), "var/x.key", "X_KEY");
//   crypto_secretbox_easy(..., key.data());
#pragma once

#include <array>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

namespace wonderland {

class SecretKey {
 public:
  static constexpr std::size_t kSize = 32;

  /// A fresh key from the operating system's CSPRNG.
  static SecretKey random();
  /// From 64 hex digits; throws std::invalid_argument naming `what` (never the value).
  static SecretKey from_hex(std::string_view hex, const std::string& what);
  /// Reads `file` (32 raw bytes, or 64 hex digits and an optional newline). When it does not
  /// exist it is created with a random key, mode 0600 (its folder 0700 when made). Throws
  /// std::runtime_error when it cannot be read or created, or holds something else.
  static SecretKey load_or_create(const std::filesystem::path& file);
  /// `hex` when not empty (named `what` in errors), else load_or_create(file).
  static SecretKey resolve(std::string_view hex, const std::filesystem::path& file,
                           const std::string& what);

  SecretKey(const SecretKey&) = delete;
  SecretKey& operator=(const SecretKey&) = delete;
  SecretKey(SecretKey&& other) noexcept;
  SecretKey& operator=(SecretKey&& other) noexcept;
  ~SecretKey();  ///< zeroes the bytes (sodium_memzero)

  const unsigned char* data() const { return bytes_.data(); }
  static constexpr std::size_t size() { return kSize; }

 private:
  SecretKey() = default;
  std::array<unsigned char, kSize> bytes_{};
};

}  // namespace wonderland
