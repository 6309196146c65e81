#include "wonderland/notification/store.hpp"

#include <stdexcept>

#include "wonderland/common/ids.hpp"
#include "wonderland/common/time.hpp"

namespace wonderland::notification {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS deliveries (
  delivery_id     INTEGER PRIMARY KEY,
  message_id      TEXT NOT NULL UNIQUE,
  idempotency_key TEXT UNIQUE,
  event_key       TEXT NOT NULL UNIQUE,
  event_type      TEXT NOT NULL,
  status          TEXT NOT NULL CHECK (status IN ('sending', 'sent', 'failed')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  last_error      TEXT,
  created_at      TEXT NOT NULL,
  updated_at      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS notifications (
  notification_id  TEXT PRIMARY KEY,
  delivery_id      INTEGER NOT NULL UNIQUE REFERENCES deliveries(delivery_id),
  customer_id      TEXT NOT NULL,
  kind             TEXT NOT NULL,
  subject          TEXT NOT NULL,
  order_id         TEXT,
  email            TEXT NOT NULL,
  body             TEXT NOT NULL,
  event_message_id TEXT NOT NULL,
  created_at       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS notifications_by_customer ON notifications(customer_id, created_at);
CREATE TABLE IF NOT EXISTS contacts (
  customer_id TEXT PRIMARY KEY,
  email       TEXT NOT NULL,
  first_name  TEXT NOT NULL DEFAULT '',
  last_name   TEXT NOT NULL DEFAULT '',
  updated_at  TEXT NOT NULL
);
)sql";

std::optional<std::string> null_if_empty(const std::string& s) {
  return s.empty() ? std::nullopt : std::optional<std::string>(s);
}

}  // namespace

InterruptedPolicy parse_interrupted_policy(const std::string& text) {
  if (text == "resend")
    return InterruptedPolicy::kResend;
  if (text == "skip")
    return InterruptedPolicy::kSkip;
  throw std::invalid_argument("interrupted-delivery policy must be 'resend' or 'skip', not '" +
                              text + "'");
}

Store::Store(const std::string& path) : db_(path) {
  db_.exec(kSchema);
}

Claim Store::claim(const DeliveryKeys& keys, InterruptedPolicy policy) {
  if (keys.message_id.empty() || keys.event_key.empty()) {
    throw std::invalid_argument("a delivery needs a message_id and an event key");
  }
  std::lock_guard lock(mu_);
  sqlite::Transaction tx(db_);
  const std::string now = now_iso8601();
  auto find = db_.prepare(
      "SELECT delivery_id, status, attempts FROM deliveries "
      "WHERE message_id = ?1 OR event_key = ?2 OR (?3 IS NOT NULL AND idempotency_key = ?3) "
      "ORDER BY status = 'sent' DESC, delivery_id LIMIT 1");
  find.bind(1, keys.message_id)
      .bind(2, keys.event_key)
      .bind(3, null_if_empty(keys.idempotency_key));
  Claim claim;
  if (!find.step()) {
    auto insert = db_.prepare(
        "INSERT INTO deliveries (message_id, idempotency_key, event_key, event_type, status, "
        "attempts, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, 'sending', 1, ?, ?)");
    insert.bind(1, keys.message_id)
        .bind(2, null_if_empty(keys.idempotency_key))
        .bind(3, keys.event_key)
        .bind(4, keys.event_type)
        .bind(5, now)
        .bind(6, now);
    insert.step();
    claim = Claim{Decision::kSend, db_.last_insert_rowid(), 1};
  } else {
    claim.delivery_id = find.int64(0);
    const std::string status = find.text(1);
    claim.attempts = static_cast<int>(find.int64(2));
    if (status == "sent") {
      claim.decision = Decision::kAlreadySent;
    } else if (status == "sending" && policy == InterruptedPolicy::kSkip) {
      claim.decision = Decision::kRecordOnly;
    } else {
      claim.decision = status == "sending" ? Decision::kResend : Decision::kSend;
      ++claim.attempts;
      auto update = db_.prepare(
          "UPDATE deliveries SET status = 'sending', attempts = ?, updated_at = ? WHERE "
          "delivery_id = ?");
      update.bind(1, claim.attempts).bind(2, now).bind(3, claim.delivery_id);
      update.step();
    }
  }
  tx.commit();
  return claim;
}

void Store::mark_sent(std::int64_t delivery_id, NotificationRecord record) {
  std::lock_guard lock(mu_);
  if (record.notification_id.empty())
    record.notification_id = new_uuid();
  if (record.created_at.empty())
    record.created_at = now_iso8601();
  sqlite::Transaction tx(db_);
  auto update = db_.prepare(
      "UPDATE deliveries SET status = 'sent', last_error = NULL, updated_at = ? WHERE delivery_id "
      "= ?");
  update.bind(1, record.created_at).bind(2, delivery_id);
  update.step();
  if (update.changes() != 1)
    throw std::invalid_argument("no delivery " + std::to_string(delivery_id));
  auto insert = db_.prepare(
      "INSERT OR IGNORE INTO notifications (notification_id, delivery_id, customer_id, kind, "
      "subject, order_id, "
      "email, body, event_message_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  insert.bind(1, record.notification_id)
      .bind(2, delivery_id)
      .bind(3, record.customer_id)
      .bind(4, record.kind)
      .bind(5, record.subject)
      .bind(6, null_if_empty(record.order_id))
      .bind(7, record.email)
      .bind(8, record.body)
      .bind(9, record.event_message_id)
      .bind(10, record.created_at);
  insert.step();
  tx.commit();
}

void Store::mark_failed(std::int64_t delivery_id, const std::string& error) {
  std::lock_guard lock(mu_);
  auto update = db_.prepare(
      "UPDATE deliveries SET status = 'failed', last_error = ?, updated_at = ? "
      "WHERE delivery_id = ? AND status <> 'sent'");
  update.bind(1, error).bind(2, now_iso8601()).bind(3, delivery_id);
  update.step();
}

std::optional<DeliveryState> Store::delivery(const std::string& message_id) {
  std::lock_guard lock(mu_);
  auto find = db_.prepare(
      "SELECT message_id, status, attempts, last_error FROM deliveries WHERE message_id = ?");
  find.bind(1, message_id);
  if (!find.step())
    return std::nullopt;
  return DeliveryState{find.text(0), find.text(1), static_cast<int>(find.int64(2)),
                       find.optional_text(3).value_or("")};
}

std::vector<NotificationRecord> Store::list(const std::string& customer_id, int limit) {
  std::lock_guard lock(mu_);
  auto query = db_.prepare(
      "SELECT n.notification_id, n.customer_id, n.kind, n.subject, n.order_id, n.email, n.body, "
      "n.created_at, "
      "n.event_message_id FROM notifications n WHERE n.customer_id = ? "
      "ORDER BY n.created_at DESC, n.rowid DESC LIMIT ?");
  query.bind(1, customer_id).bind(2, limit);
  std::vector<NotificationRecord> out;
  while (query.step()) {
    out.push_back(NotificationRecord{query.text(0), query.text(1), query.text(2), query.text(3),
                                     query.optional_text(4).value_or(""), query.text(5),
                                     query.text(6), query.text(7), query.text(8)});
  }
  return out;
}

void Store::remember_contact(const Contact& contact) {
  std::lock_guard lock(mu_);
  auto upsert = db_.prepare(
      "INSERT INTO contacts (customer_id, email, first_name, last_name, updated_at) VALUES (?, ?, "
      "?, ?, ?) "
      "ON CONFLICT (customer_id) DO UPDATE SET email = excluded.email, "
      "first_name = CASE WHEN excluded.first_name <> '' THEN excluded.first_name ELSE "
      "contacts.first_name END, "
      "last_name = CASE WHEN excluded.last_name <> '' THEN excluded.last_name ELSE "
      "contacts.last_name END, "
      "updated_at = excluded.updated_at");
  upsert.bind(1, contact.customer_id)
      .bind(2, contact.email)
      .bind(3, contact.first_name)
      .bind(4, contact.last_name)
      .bind(5, now_iso8601());
  upsert.step();
}

std::optional<Contact> Store::contact(const std::string& customer_id) {
  std::lock_guard lock(mu_);
  auto find = db_.prepare(
      "SELECT customer_id, email, first_name, last_name FROM contacts WHERE customer_id = ?");
  find.bind(1, customer_id);
  if (!find.step())
    return std::nullopt;
  return Contact{find.text(0), find.text(1), find.text(2), find.text(3)};
}

}  // namespace wonderland::notification
