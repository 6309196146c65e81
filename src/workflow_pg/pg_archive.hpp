// Retention in the PostgreSQL journal: the move of finished workflows to `archived_workflows`,
// one statement per batch on a connection of its own (`wl-journal-retention <instance id>`).
// Several mediators may sweep one journal at once: each batch locks the rows it moves with
// SKIP LOCKED, so concurrent sweeps take disjoint workflows and never wait for each other.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>

#include "pg_connection.hpp"
#include "wonderland/common/error.hpp"

namespace wonderland::workflow::pg {

class Archiver {
 public:
  explicit Archiver(Connection conn) : conn_(std::move(conn)) {}

  /// Journal::archive_finished(): `age` is measured with the database's clock.
  Result<std::size_t> archive_finished(std::chrono::milliseconds age, std::size_t limit);

 private:
  std::mutex mutex_;
  Connection conn_;
};

}  // namespace wonderland::workflow::pg
