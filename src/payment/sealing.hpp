// Card data at rest (private to the payment component): sealing under the payment key, wiping
// plain text from memory, and the hashes under which tokens are stored.
#pragma once

#include <optional>
#include <string>

#include "wonderland/common/secret_key.hpp"
#include "wonderland/payment/method.hpp"

namespace wonderland::payment {

/// Overwrites a string that held card data before it is freed, and empties it.
void wipe(std::string& s);
/// Wipes every secret field of a payment method.
void wipe(PaymentMethod& pm);

/// hex(nonce || crypto_secretbox(plain)) under `key`, with a random nonce.
std::string seal(const SecretKey& key, const std::string& plain);
/// The plain text of seal(); nullopt when it does not open under `key`.
std::optional<std::string> open(const SecretKey& key, const std::string& sealed);

/// Lower-case hex SHA-256 of `text` (a token is stored only as this).
std::string hex_sha256(const std::string& text);
/// Whether `s` has the form of a payment token (64 lower-case hex digits).
bool is_token(const std::string& s);

}  // namespace wonderland::payment
