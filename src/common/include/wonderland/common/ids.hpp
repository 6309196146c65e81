// Identifiers are UUIDs (version 4, random), in their canonical lower-case text form.
#pragma once

#include <string>
#include <string_view>

namespace wonderland {

/// A new random (version 4) UUID. Thread-safe; each thread has its own generator seeded from
/// the operating system's entropy.
std::string new_uuid();

/// A name-based UUID of `name`: the first 16 bytes of its SHA-256, in the RFC 9562 layout of a
/// version 8 (custom) UUID. The same name always gives the same id, so a request retried with
/// the same name (an Idempotency-Key, an order and its lines) names the same thing.
std::string name_based_uuid(std::string_view name);

/// Whether `s` is a UUID in canonical 8-4-4-4-12 hexadecimal form (any case).
bool is_uuid(std::string_view s);

/// `n` random bytes from the operating system's CSPRNG, hex-encoded (2n characters). For
/// secrets such as session tokens.
std::string random_hex(std::size_t n);

/// `n` random bytes from a fast per-thread generator, hex-encoded. Unique enough for trace and
/// span ids; never for secrets.
std::string fast_random_hex(std::size_t n);

}  // namespace wonderland
