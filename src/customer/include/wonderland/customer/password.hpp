// Password hashing (argon2id through libsodium) and session tokens.
//
// Passwords are stored only as libsodium's argon2id strings (`$argon2id$v=19$m=...,t=...,p=1$...`),
// which carry their own salt and cost parameters, so a change of policy affects new hashes only
// and old ones still verify (and are upgraded on the next successful sign-in).
//
// The default cost follows the OWASP Password Storage Cheat Sheet's argon2id baseline:
// 19 MiB of memory, 2 iterations, 1 lane (libsodium always uses one lane). That is below
// libsodium's INTERACTIVE preset (64 MiB), so that the many sign-ins of tests and load
// benchmarks stay cheap on a small machine, while remaining a documented, defensible setting.
// Raise it with WONDERLAND_ARGON2_OPSLIMIT / WONDERLAND_ARGON2_MEMLIMIT_KIB.
//
// Session tokens are 256 random bits from the OS CSPRNG (hex, 64 characters); only their
// SHA-256 digest is stored.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace wonderland::customer {

/// Cost of argon2id password hashes.
struct PasswordPolicy {
  /// Iterations (libsodium's opslimit); at least 1.
  unsigned long long opslimit = 2;
  /// Memory in bytes (libsodium's memlimit); at least 8 KiB.
  std::size_t memlimit_bytes = std::size_t{19456} * 1024;

  /// Reads WONDERLAND_ARGON2_OPSLIMIT (default 2) and WONDERLAND_ARGON2_MEMLIMIT_KIB (default
  /// 19456); throws std::invalid_argument naming the variable when out of libsodium's bounds.
  static PasswordPolicy from_env();
  /// A very cheap policy for tests that hash many passwords (never for production).
  static PasswordPolicy for_tests();
};

/// Hashes `password` with argon2id under `policy`. Throws std::runtime_error when libsodium
/// cannot (out of memory).
std::string hash_password(std::string_view password, const PasswordPolicy& policy);
/// Whether `password` matches the argon2id string `hash` (constant-time comparison inside
/// libsodium). False for a malformed hash.
bool verify_password(const std::string& hash, std::string_view password);
/// Whether `hash` was made with other parameters than `policy` (and should be re-hashed).
bool needs_rehash(const std::string& hash, const PasswordPolicy& policy);

/// A new session token: 32 bytes from the OS CSPRNG, hex-encoded (64 characters).
std::string new_session_token();
/// The SHA-256 digest of a token, hex-encoded: what the database stores instead of the token.
std::string token_digest(std::string_view token);

}  // namespace wonderland::customer
