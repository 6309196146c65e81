// The payment ledger's tables (private to the payment component): the schema, charges and their
// ledger entries, partial refunds, void orders and the outbox of events. Every function runs on
// the caller's connection, inside the caller's transaction and lock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "wonderland/messaging/envelope.hpp"
#include "wonderland/payment/payments.hpp"
#include "wonderland/payment/protocol.hpp"
#include "wonderland/sqlite/db.hpp"
#include "wonderland/sqlite/guarded.hpp"

namespace wonderland::payment::ledger {

/// The ledger as sqlite::guarded sees it: "the payment ledger", failures logged.
const sqlite::GuardedStore& store();

/// Creates the tables and indexes that are missing (payment_tokens included).
void migrate(sqlite::Db& db);

/// An order's charge as stored.
struct Charge {
  ChargeReply reply;
  std::string customer_id;
  std::string status;  ///< charged | refunded
};

/// The charge of `order_id`, if any.
std::optional<Charge> load_charge(sqlite::Db& db, const std::string& order_id);
/// Records a new charge and its `charge` ledger entry.
void insert_charge(sqlite::Db& db, const Charge& charge, const std::string& at);
/// Marks a charge refunded in full and adds a `refund` ledger entry of `amount_cents` (what
/// partial refunds left; no entry when that is 0).
void refund_charge(sqlite::Db& db, const Charge& charge, std::int64_t amount_cents,
                   const std::string& at);

/// What was refunded of a charge so far.
struct Refunds {
  std::int64_t total_cents = 0;    ///< every `refund` ledger entry
  std::int64_t partial_cents = 0;  ///< those of partial refunds
};
/// The charge's refunds, from its ledger entries.
Refunds refunds(sqlite::Db& db, const Charge& charge);

/// A partial refund as stored.
struct PartialRefund {
  std::string refund_id;
  std::string order_id;
  std::int64_t amount_cents = 0;
  std::int64_t remaining_cents = 0;  ///< still refundable right after it
};

/// The partial refund `refund_id`, if any.
std::optional<PartialRefund> load_partial_refund(sqlite::Db& db, const std::string& refund_id);
/// Records a partial refund of the charge and its `refund` ledger entry.
void insert_partial_refund(sqlite::Db& db, const Charge& charge, const PartialRefund& refund,
                           const std::string& at);

/// Whether the order was refunded before any charge (a late charge for it is refused).
bool is_void(sqlite::Db& db, const std::string& order_id);
/// Records the order as void; nothing when it is already.
void mark_void(sqlite::Db& db, const std::string& order_id, const std::string& at);

/// The order's ledger (payment.get's reply).
LedgerReply entries(sqlite::Db& db, const std::string& order_id);

/// Adds an event to the outbox.
void enqueue(sqlite::Db& db, const std::string& routing_key, const messaging::Envelope& event,
             const std::string& at);
/// Up to `limit` outbox events not yet published, oldest first.
std::vector<OutboxEvent> pending(sqlite::Db& db, std::size_t limit);
/// Marks an outbox event published.
void mark_published(sqlite::Db& db, std::int64_t id, const std::string& at);

}  // namespace wonderland::payment::ledger
