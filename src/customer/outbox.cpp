#include "outbox.hpp"

#include <cstdint>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "guarded.hpp"
#include "wonderland/log/log.hpp"

namespace wonderland::customer {
namespace {

/// `{1,2,3}`: ids as a PostgreSQL array literal, for a `$n::bigint[]` parameter.
std::string id_array(const std::vector<std::int64_t>& ids) {
  std::string out = "{";
  for (std::int64_t id : ids) {
    if (out.size() > 1)
      out.push_back(',');
    out += std::to_string(id);
  }
  out.push_back('}');
  return out;
}

/// The prefix of the advisory lock keys of the schema's outbox rows: the key of row `id` is
/// hashtextextended(prefix || id, 0), so that two schemas of one database never share a key.
std::string lock_prefix(const Database& db) {
  return "wonderland.customer.outbox:" + db.schema() + ":";
}

struct OutboxRow {
  std::int64_t id = 0;
  std::string routing_key;
  std::string envelope;
};

/// Releases the session's locks on `ids` (each was taken once). Should that fail, the session
/// is dropped instead, and its locks with it: a lock must never outlive its flush, or the row
/// would wait for that session to end.
void release(Database& db, const std::vector<std::int64_t>& ids) noexcept {
  if (ids.empty())
    return;
  try {
    pqxx::nontransaction tx(db.connection());
    exec_sql(tx,
             "SELECT pg_advisory_unlock(hashtextextended($2 || id::text, 0)) "
             "FROM unnest($1::bigint[]) AS id",
             id_array(ids), lock_prefix(db));
  } catch (const std::exception& e) {
    log::debug("could not release the outbox locks ({}); closing the session", e.what());
    db.reset();
  }
}

/// Locks the oldest rows (up to `limit`) whose lock this session gets; returns their ids. The
/// locks belong to the session, not to a transaction, so none is open while the broker
/// confirms, and they go with the session should the process die.
std::vector<std::int64_t> claim(Database& db, int limit) {
  pqxx::nontransaction tx(db.connection());
  std::vector<std::int64_t> oldest;
  for (const auto& row : exec_sql(tx, "SELECT id FROM outbox ORDER BY id LIMIT $1", limit))
    oldest.push_back(row[0].as<std::int64_t>());
  std::vector<std::int64_t> locked;
  if (oldest.empty())
    return locked;
  for (const auto& row : exec_sql(tx,
                                  "SELECT id FROM unnest($1::bigint[]) AS id "
                                  "WHERE pg_try_advisory_lock(hashtextextended($2 || id::text, 0))",
                                  id_array(oldest), lock_prefix(db))) {
    locked.push_back(row[0].as<std::int64_t>());
  }
  return locked;
}

/// The locked rows that are still there, oldest first. Read after locking, so that a row another
/// flusher published and deleted since `claim` first saw it is gone by then.
std::vector<OutboxRow> read_claimed(Database& db, const std::vector<std::int64_t>& locked) {
  pqxx::nontransaction tx(db.connection());
  std::vector<OutboxRow> rows;
  for (const auto& row : exec_sql(tx,
                                  "SELECT id, routing_key, envelope FROM outbox "
                                  "WHERE id = ANY($1::bigint[]) ORDER BY id",
                                  id_array(locked))) {
    rows.push_back(
        OutboxRow{row[0].as<std::int64_t>(), row[1].as<std::string>(), row[2].as<std::string>()});
  }
  return rows;
}

/// Publishes `rows` in order up to the first failure; returns the ids that may go: those
/// published, and a malformed row (which cannot happen for rows this service wrote; it is
/// dropped rather than block the outbox).
std::vector<std::int64_t> publish_rows(const std::vector<OutboxRow>& rows,
                                       const EventPublisher& publish, int& published) {
  std::vector<std::int64_t> done;
  for (const OutboxRow& row : rows) {
    messaging::Envelope event;
    try {
      event = messaging::Envelope::parse(row.envelope);
    } catch (const std::exception& e) {
      log::error("dropping malformed outbox event {}: {}", row.id, e.what());
      done.push_back(row.id);
      continue;
    }
    Status s = publish(row.routing_key, event);
    if (!s.ok()) {
      log::warn("could not publish event {} ({}): {}; it stays in the outbox", event.message_id,
                row.routing_key, s.error().message);
      break;
    }
    done.push_back(row.id);
    ++published;
  }
  return done;
}

}  // namespace

int flush_outbox(Database& db, const EventPublisher& publish, int limit) {
  std::vector<std::int64_t> locked;
  try {
    locked = claim(db, limit);
  } catch (...) {
    db.reset();  // whatever a failed claim had locked goes with the session
    throw;
  }
  if (locked.empty())
    return 0;
  int published = 0;
  try {
    const std::vector<std::int64_t> done =
        publish_rows(read_claimed(db, locked), publish, published);
    if (!done.empty()) {
      pqxx::work tx(db.connection());
      exec_sql(tx, "DELETE FROM outbox WHERE id = ANY($1::bigint[])", id_array(done));
      tx.commit();
    }
  } catch (...) {
    // The rows stay, and a later flush publishes them again: at least once, as always.
    release(db, locked);
    throw;
  }
  release(db, locked);
  return published;
}

Status try_flush_outbox(Database& db, const EventPublisher& publish) {
  Result<nlohmann::json> flushed = guarded(db, "outbox flush", [&]() -> Result<nlohmann::json> {
    return nlohmann::json(flush_outbox(db, publish));
  });
  if (!flushed.ok())
    return flushed.error();
  return ok_status();
}

int pending_events(Database& db) {
  pqxx::read_transaction tx(db.connection());
  return tx.exec("SELECT count(*) FROM outbox")[0][0].as<int>();
}

OutboxFlusher::OutboxFlusher(Database& db, EventPublisher publish,
                             std::chrono::milliseconds interval)
    : db_(db),
      publish_(std::move(publish)),
      periodic_("outbox flush", interval, [this] { flush(); }) {}

void OutboxFlusher::flush() {
  Status flushed = try_flush_outbox(db_, publish_);
  if (!flushed.ok())
    log::debug("periodic outbox flush failed: {}", flushed.error().message);
}

}  // namespace wonderland::customer
