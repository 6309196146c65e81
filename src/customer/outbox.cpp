#include "wonderland/customer/outbox.hpp"

#include <spdlog/spdlog.h>

#include <pqxx/pqxx>

namespace wonderland::customer {

int flush_outbox(Database& db, const EventPublisher& publish, int limit) {
  pqxx::work tx(db.connection());
  auto rows = exec_sql(
      tx,
      "SELECT id, routing_key, envelope FROM outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
      limit);
  int published = 0;
  for (const auto& row : rows) {
    auto id = row[0].as<std::int64_t>();
    std::string routing_key = row[1].as<std::string>();
    messaging::Envelope event;
    try {
      event = messaging::Envelope::parse(row[2].as<std::string>());
    } catch (const std::exception& e) {
      // Cannot happen for rows this service wrote; drop it rather than block the outbox forever.
      spdlog::error("dropping malformed outbox event {}: {}", id, e.what());
      exec_sql(tx, "DELETE FROM outbox WHERE id = $1", id);
      continue;
    }
    Status s = publish(routing_key, event);
    if (!s.ok()) {
      spdlog::warn("could not publish event {} ({}): {}; it stays in the outbox", event.message_id, routing_key,
                   s.error().message);
      break;
    }
    exec_sql(tx, "DELETE FROM outbox WHERE id = $1", id);
    ++published;
  }
  tx.commit();
  return published;
}

int pending_events(Database& db) {
  pqxx::read_transaction tx(db.connection());
  return tx.exec("SELECT count(*) FROM outbox")[0][0].as<int>();
}

}  // namespace wonderland::customer
