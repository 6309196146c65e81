// The payment ledger's tables (private to the payment component): the schema, charges and their
// ledger entries, void orders and the outbox of events. Every function runs on the caller's
// connection, inside the caller's transaction and lock.
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
/// Marks a charge refunded and adds its `refund` ledger entry.
void refund_charge(sqlite::Db& db, const Charge& charge, const std::string& at);

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
