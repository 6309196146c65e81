#include "ledger.hpp"

#include "wonderland/common/ids.hpp"
#include "wonderland/log/failure.hpp"

namespace wonderland::payment::ledger {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS charges (
  payment_id   TEXT PRIMARY KEY,
  order_id     TEXT NOT NULL UNIQUE,
  customer_id  TEXT NOT NULL,
  amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
  method       TEXT NOT NULL,
  masked       TEXT NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('charged', 'refunded')),
  created_at   TEXT NOT NULL,
  refunded_at  TEXT
);
CREATE TABLE IF NOT EXISTS ledger_entries (
  entry_id     TEXT PRIMARY KEY,
  payment_id   TEXT NOT NULL REFERENCES charges(payment_id),
  order_id     TEXT NOT NULL,
  kind         TEXT NOT NULL CHECK (kind IN ('charge', 'refund')),
  amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
  created_at   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_entries_order ON ledger_entries(order_id);
-- Partial refunds (payment.refund_partial), one per refund_id: each is a `refund` ledger entry;
-- the charge stays 'charged' while they leave something to refund. `remaining_cents` is what
-- was still refundable right after it (the reply a repeat gets).
CREATE TABLE IF NOT EXISTS partial_refunds (
  refund_id       TEXT PRIMARY KEY,
  entry_id        TEXT NOT NULL UNIQUE REFERENCES ledger_entries(entry_id),
  order_id        TEXT NOT NULL,
  amount_cents    INTEGER NOT NULL CHECK (amount_cents > 0),
  remaining_cents INTEGER NOT NULL CHECK (remaining_cents >= 0),
  created_at      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS void_orders (
  order_id   TEXT PRIMARY KEY,
  created_at TEXT NOT NULL
);
-- Payment details behind a token: `sealed` is hex(nonce || crypto_secretbox(details JSON)) under
-- the payment key; the token itself is not stored, only its SHA-256.
CREATE TABLE IF NOT EXISTS payment_tokens (
  token_hash  TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  method      TEXT NOT NULL,
  masked      TEXT NOT NULL,
  sealed      TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  expires_at  INTEGER NOT NULL,
  decided_at  TEXT
);
CREATE INDEX IF NOT EXISTS payment_tokens_expiry ON payment_tokens(expires_at) WHERE decided_at IS NULL;
CREATE TABLE IF NOT EXISTS outbox (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  routing_key  TEXT NOT NULL,
  envelope     TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  published_at TEXT
);
)sql";

/// Adds a ledger entry of the charge; returns its id.
std::string add_entry(sqlite::Db& db, const Charge& c, const char* kind, std::int64_t amount_cents,
                      const std::string& at) {
  std::string entry_id = new_uuid();
  db.prepare(
        "INSERT INTO ledger_entries(entry_id, payment_id, order_id, kind, amount_cents, "
        "created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)")
      .bind(1, entry_id)
      .bind(2, c.reply.payment_id)
      .bind(3, c.reply.order_id)
      .bind(4, kind)
      .bind(5, amount_cents)
      .bind(6, at)
      .step();
  return entry_id;
}

}  // namespace

const sqlite::GuardedStore& store() {
  static const sqlite::GuardedStore ledger{"the payment ledger",
                                           log::report_failure<sqlite::Failure>};
  return ledger;
}

void migrate(sqlite::Db& db) {
  db.exec(kSchema);
}

std::optional<Charge> load_charge(sqlite::Db& db, const std::string& order_id) {
  auto find = db.prepare(
      "SELECT payment_id, order_id, customer_id, amount_cents, method, masked, status FROM charges "
      "WHERE order_id = ?");
  find.bind(1, order_id);
  if (!find.step())
    return std::nullopt;
  return Charge{ChargeReply{find.text(0), find.text(1), find.int64(3), find.text(4), find.text(5)},
                find.text(2), find.text(6)};
}

void insert_charge(sqlite::Db& db, const Charge& c, const std::string& at) {
  db.prepare(
        "INSERT INTO charges(payment_id, order_id, customer_id, amount_cents, method, "
        "masked, status, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, 'charged', ?)")
      .bind(1, c.reply.payment_id)
      .bind(2, c.reply.order_id)
      .bind(3, c.customer_id)
      .bind(4, c.reply.amount_cents)
      .bind(5, c.reply.method)
      .bind(6, c.reply.masked)
      .bind(7, at)
      .step();
  add_entry(db, c, "charge", c.reply.amount_cents, at);
}

void refund_charge(sqlite::Db& db, const Charge& c, std::int64_t amount_cents,
                   const std::string& at) {
  db.prepare("UPDATE charges SET status = 'refunded', refunded_at = ? WHERE payment_id = ?")
      .bind(1, at)
      .bind(2, c.reply.payment_id)
      .step();
  if (amount_cents > 0)
    add_entry(db, c, "refund", amount_cents, at);
}

Refunds refunds(sqlite::Db& db, const Charge& c) {
  auto sums = db.prepare(
      "SELECT COALESCE(SUM(e.amount_cents), 0), COALESCE(SUM(p.amount_cents), 0) "
      "FROM ledger_entries e LEFT JOIN partial_refunds p ON p.entry_id = e.entry_id "
      "WHERE e.payment_id = ? AND e.kind = 'refund'");
  sums.bind(1, c.reply.payment_id);
  sums.step();
  return Refunds{sums.int64(0), sums.int64(1)};
}

std::optional<PartialRefund> load_partial_refund(sqlite::Db& db, const std::string& refund_id) {
  auto find = db.prepare(
      "SELECT refund_id, order_id, amount_cents, remaining_cents FROM partial_refunds "
      "WHERE refund_id = ?");
  find.bind(1, refund_id);
  if (!find.step())
    return std::nullopt;
  return PartialRefund{find.text(0), find.text(1), find.int64(2), find.int64(3)};
}

void insert_partial_refund(sqlite::Db& db, const Charge& c, const PartialRefund& refund,
                           const std::string& at) {
  const std::string entry_id = add_entry(db, c, "refund", refund.amount_cents, at);
  db.prepare(
        "INSERT INTO partial_refunds(refund_id, entry_id, order_id, amount_cents, "
        "remaining_cents, created_at) VALUES (?, ?, ?, ?, ?, ?)")
      .bind(1, refund.refund_id)
      .bind(2, entry_id)
      .bind(3, refund.order_id)
      .bind(4, refund.amount_cents)
      .bind(5, refund.remaining_cents)
      .bind(6, at)
      .step();
}

bool is_void(sqlite::Db& db, const std::string& order_id) {
  auto find = db.prepare("SELECT 1 FROM void_orders WHERE order_id = ?");
  find.bind(1, order_id);
  return find.step();
}

void mark_void(sqlite::Db& db, const std::string& order_id, const std::string& at) {
  db.prepare(
        "INSERT INTO void_orders(order_id, created_at) VALUES (?, ?) ON CONFLICT(order_id) "
        "DO NOTHING")
      .bind(1, order_id)
      .bind(2, at)
      .step();
}

LedgerReply entries(sqlite::Db& db, const std::string& order_id) {
  auto rows = db.prepare(
      "SELECT e.entry_id, e.payment_id, e.kind, e.amount_cents, c.method, c.masked, e.created_at, "
      "p.refund_id, c.status "
      "FROM ledger_entries e JOIN charges c ON c.payment_id = e.payment_id "
      "LEFT JOIN partial_refunds p ON p.entry_id = e.entry_id "
      "WHERE e.order_id = ? ORDER BY e.created_at, e.rowid");
  rows.bind(1, order_id);
  LedgerReply reply{order_id, 0, 0, 0, {}};
  bool refunded_in_full = false;
  while (rows.step()) {
    LedgerEntry entry{rows.text(0), rows.text(1), rows.text(2), rows.int64(3),
                      rows.text(4), rows.text(5), rows.text(6), rows.optional_text(7)};
    (entry.kind == "charge" ? reply.charged_cents : reply.refunded_cents) += entry.amount_cents;
    refunded_in_full = rows.text(8) == "refunded";
    reply.entries.push_back(std::move(entry));
  }
  reply.remaining_cents = refunded_in_full ? 0 : reply.charged_cents - reply.refunded_cents;
  return reply;
}

void enqueue(sqlite::Db& db, const std::string& routing_key, const messaging::Envelope& event,
             const std::string& at) {
  db.prepare("INSERT INTO outbox(routing_key, envelope, created_at) VALUES (?, ?, ?)")
      .bind(1, routing_key)
      .bind(2, event.serialize())
      .bind(3, at)
      .step();
}

std::vector<OutboxEvent> pending(sqlite::Db& db, std::size_t limit) {
  auto rows = db.prepare(
      "SELECT id, routing_key, envelope FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT "
      "?");
  rows.bind(1, static_cast<std::int64_t>(limit));
  std::vector<OutboxEvent> events;
  while (rows.step()) {
    events.push_back(
        OutboxEvent{rows.int64(0), rows.text(1), messaging::Envelope::parse(rows.text(2))});
  }
  return events;
}

void mark_published(sqlite::Db& db, std::int64_t id, const std::string& at) {
  db.prepare("UPDATE outbox SET published_at = ? WHERE id = ?").bind(1, at).bind(2, id).step();
}

}  // namespace wonderland::payment::ledger
