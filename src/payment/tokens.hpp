// Payment tokens at rest (private to the payment component): the payment_tokens table, where
// the details behind each token are kept sealed, opened for a charge and stripped of their CVV
// once the charge is decided. Every function runs inside the caller's lock (and transaction).
#pragma once

#include <optional>
#include <string>

#include "wonderland/common/error.hpp"
#include "wonderland/common/secret_key.hpp"
#include "wonderland/common/time.hpp"
#include "wonderland/payment/method.hpp"
#include "wonderland/sqlite/db.hpp"

namespace wonderland::payment::tokens {

/// A token to store: what tokenize validated and sealed.
struct NewToken {
  std::string token_hash;  ///< hex SHA-256 of the token
  std::string customer_id;
  std::string method;
  std::string masked;
  std::string sealed;  ///< seal() of the details JSON
  SystemTime created_at;
  SystemTime expires_at;
};

/// Deletes the tokens that expired undecided (secure_delete overwrites them), then stores
/// `token`.
void store(sqlite::Db& db, const NewToken& token);

/// The details behind a token, opened for a charge. Wipe `details` once decided.
struct Opened {
  PaymentMethod details;  ///< method, and the card number or PayPal address
  std::string masked;
  std::string sealed;  ///< the row as stored, for discard_cvv
};

/// Opens the token `token_hash` of `customer_id` for a charge of `order_id` at `now`.
/// invalid_argument (field payment_token) when it is unknown or another customer's,
/// failed_precondition when it expired undecided, internal when it does not open under `key`.
Result<Opened> open(sqlite::Db& db, const SecretKey& key, const std::string& token_hash,
                    const std::string& customer_id, const std::string& order_id, SystemTime now);

/// Seals the token's row again without its CVV and marks it decided.
void discard_cvv(sqlite::Db& db, const SecretKey& key, const std::string& token_hash,
                 const std::string& sealed);

}  // namespace wonderland::payment::tokens
