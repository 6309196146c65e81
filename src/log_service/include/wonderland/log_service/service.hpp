// The logging service: stores every log record and workflow event in rotating CSV files,
// answers queries over RPC and republishes each stored record on the live exchange
// (protocol.hpp describes the messages).
//
//   auto options = log_service::ServiceOptions::from_env();
//   log_service::LoggingService service(messaging::ConnectionOptions::from_env("logging"),
//   options);
//   ...  // until SIGTERM
//   service.stop();
//
// Guarantees
//   * A message is acknowledged only after its record was written to the current CSV file
//     (write(2) returned; with `store.writer.fsync` also fdatasync). Handler threads append
//     concurrently and the store combines them into one write (group commit): a write waits
//     up to `store.linger` for the other handler threads to join its batch, and goes as soon
//     as all `concurrency` of them have. So writes are batched while none is acknowledged early.
//     Measured (bench/logging): on a small machine the broker, not the service, is the limit;
//     group commit matters most with fsync on, where it multiplies throughput several times.
//   * A record whose write fails is not acknowledged: the consumer retries it and finally
//     dead-letters it to `<queue>.dead`; none is dropped silently.
//   * Redeliveries of a message id seen recently (`dedup_window`) are acknowledged without
//     being stored again.
//   * Live publishing is best effort and never slows ingestion down: records wait in a bounded
//     queue (`live_queue_capacity`) and beyond it are dropped from the live feed (still stored).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

#include "wonderland/log_store/store.hpp"
#include "wonderland/messaging/connection.hpp"
#include "wonderland/messaging/names.hpp"

namespace wonderland::log_service {

/// Broker names, configurable so that tests can run beside a live system.
struct Topology {
  messaging::ExchangeName logs_exchange = messaging::exchanges::kLogs;
  messaging::ExchangeName workflow_exchange = messaging::exchanges::kWorkflow;
  messaging::ExchangeName live_exchange{"wonderland.logs.live"};
  messaging::QueueName records_queue{"logging.records"};
  messaging::QueueName workflow_queue{"logging.workflow"};
  messaging::QueueName query_queue{"logging.query"};
};

struct ServiceOptions {
  /// Files, index, and group commit (1 ms linger by default).
  log_store::StoreOptions store = [] {
    log_store::StoreOptions o;
    o.linger = std::chrono::microseconds(1000);
    return o;
  }();
  Topology topology;
  /// Unacknowledged records the broker sends ahead, per queue.
  std::uint16_t prefetch = 1000;
  /// Handler threads for records; each holds one record until it is written, so this is also
  /// the largest batch. 0 runs the handler on the connection's I/O thread: every record is then
  /// written on its own, which is fine without fsync but stalls the connection when the disk
  /// does. Use 64 or more with fsync.
  unsigned concurrency = 16;
  /// Threads answering queries.
  unsigned query_concurrency = 2;
  /// Attempts before a record that cannot be written is dead-lettered.
  int max_attempts = 10;
  /// Whether workflow events also go to the live feed. Off by default: they are stored and
  /// queryable, and the console shows them in each workflow's timeline; republishing each one
  /// would add a broker message per event (about twenty per purchase) for the live log viewer.
  bool live_workflow_events = false;
  /// Records waiting to be published live; beyond it they are left out of the live feed.
  std::size_t live_queue_capacity = 100'000;
  /// Message ids remembered to recognize redeliveries; 0 turns deduplication off.
  std::size_t dedup_window = 100'000;

  /// Reads, with these defaults:
  ///   WONDERLAND_LOG_DIR            var/logs/csv ($WONDERLAND_VAR_DIR/logs/csv when that is set)
  ///   WONDERLAND_LOG_MAX_BYTES      10485760   rotate the current file beyond this size
  ///   WONDERLAND_LOG_MAX_FILES      10         files kept, the current one included
  ///   WONDERLAND_LOG_FSYNC          false      fdatasync every write
  ///   WONDERLAND_LOG_INDEX_RECORDS  100000     newest records kept in memory for queries
  ///   WONDERLAND_LOG_LINGER_US     1000       how long a write waits for company (0..1000000)
  ///   WONDERLAND_LOG_PREFETCH       1000
  ///   WONDERLAND_LOG_CONCURRENCY    16 (64 with fsync); 0..1024
  ///   WONDERLAND_LOG_LIVE_WORKFLOW_EVENTS  false
  /// Throws std::invalid_argument naming the variable when a value is malformed or out of
  /// range.
  static ServiceOptions from_env();
};

struct ServiceStats {
  std::uint64_t records = 0;          ///< log records stored
  std::uint64_t workflow_events = 0;  ///< workflow events stored
  std::uint64_t duplicates = 0;       ///< redeliveries acknowledged without storing
  std::uint64_t store_failures = 0;   ///< messages whose write failed (to be retried)
  std::uint64_t queries = 0;
  std::uint64_t live_published = 0;
  std::uint64_t live_dropped = 0;
  log_store::StoreStats store;
};

class LoggingService {
 public:
  /// Opens the store, connects (two connections: one consuming, one for replies and live
  /// publishing, without publisher confirms), declares the exchanges, queues and bindings
  /// and starts consuming. Throws when the store cannot be opened or the broker refuses a
  /// declaration (or does not answer within 30 s).
  LoggingService(messaging::ConnectionOptions connection, ServiceOptions options);
  /// Calls stop().
  ~LoggingService();
  LoggingService(const LoggingService&) = delete;
  LoggingService& operator=(const LoggingService&) = delete;

  /// Stops consuming (records in progress are written and acknowledged first), stops the
  /// query server, publishes what waits for the live feed (for at most 2 s) and closes the
  /// connections. Idempotent.
  void stop();

  ServiceStats stats() const;
  const log_store::LogStore& store() const;
  const ServiceOptions& options() const noexcept;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace wonderland::log_service
