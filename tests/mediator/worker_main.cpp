// mediator_test_worker: a stand-in service for the mediator's tests and benchmark. It serves
// `<WONDERLAND_QUEUE_PREFIX><service>.commands` with RpcServer.
//
// Mode `effects` (the default): every command type is an action. Its effect is one row of table
// `effects`, written through SqliteIdempotencyStore under the envelope's idempotency key, so a
// key that comes again (a retry, a re-send after a mediator restart) has no second effect and
// gets the recorded reply. Table `deliveries` counts per key every delivery (`count`, duplicates
// included) and the duplicates that were answered from the idempotency store without acting
// again (`suppressed`); the rows of `effects` are the effects applied.
// Types ending in `.undo` are recorded as compensations. The command's input steers it (null or
// missing fields are ignored):
//   fail_times  N   the first N deliveries of the key fail with `unavailable` (retryable)
//   fail_runs   N   fail permanently (`failed_precondition`) while input `run` < N
//   slow_ms     M   sleep M ms on the handler thread before acting...
//   slow_times  N   ...only for the first N deliveries of the key (default: every delivery)
//   value       v   echoed in the reply
// The reply is {key, action, kind, effect (row id), value}.
//
// Mode `echo`: replies with the request body, on the connection's I/O thread, without a database.
//
// Environment: WONDERLAND_AMQP_URL, WONDERLAND_QUEUE_PREFIX, WONDERLAND_WORKER_SERVICE (`worker`),
// WONDERLAND_WORKER_MODE (`effects`|`echo`), WONDERLAND_WORKER_DB (effects mode),
// WONDERLAND_WORKER_THREADS (8), WONDERLAND_WORKER_PREFETCH (256),
// WONDERLAND_WORKER_DELETE_QUEUES (delete the queue and its dead letters on SIGTERM).
// Prints `worker ready` once it consumes.
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "wonderland/common/env.hpp"
#include "wonderland/common/error.hpp"
#include "wonderland/common/time.hpp"
#include "wonderland/messaging/connection.hpp"
#include "wonderland/messaging/idempotency.hpp"
#include "wonderland/messaging/rpc.hpp"
#include "wonderland/messaging/sqlite_idempotency_store.hpp"
#include "wonderland/runtime/service.hpp"
#include "wonderland/sqlite/db.hpp"

namespace {

using namespace wonderland;  // NOLINT
using nlohmann::json;

std::int64_t int_field(const json& input, const char* name, std::int64_t fallback) {
  if (!input.is_object())
    return fallback;
  auto it = input.find(name);
  if (it == input.end() || !it->is_number())
    return fallback;
  return it->get<std::int64_t>();
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

class EffectWorker {
 public:
  explicit EffectWorker(const std::string& path) : db_(path), store_(db_) {
    db_.exec(
        "CREATE TABLE IF NOT EXISTS effects ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, action TEXT NOT NULL,"
        " kind TEXT NOT NULL, workflow_id TEXT NOT NULL, input TEXT NOT NULL, at TEXT NOT NULL);"
        "CREATE INDEX IF NOT EXISTS effects_key ON effects(key);"
        "CREATE TABLE IF NOT EXISTS deliveries (key TEXT PRIMARY KEY, count INTEGER NOT NULL,"
        " suppressed INTEGER NOT NULL DEFAULT 0);");
  }

  Result<json> handle(const messaging::Envelope& request) {
    const std::string& key = request.idempotency_key;
    if (key.empty())
      return Error::of(codes::kInvalidArgument, "the command has no idempotency key");
    const json& input = request.body;
    const std::int64_t delivery = count_delivery(key);

    const std::int64_t slow_ms = int_field(input, "slow_ms", 0);
    const std::int64_t slow_times = int_field(input, "slow_times", -1);
    if (slow_ms > 0 && (slow_times < 0 || delivery <= slow_times)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(slow_ms));
    }

    const std::string kind = ends_with(request.type, ".undo") ? "compensation" : "effect";
    std::lock_guard lock(mu_);
    bool acted = false;
    auto outcome = messaging::deduplicated(store_, key, [&]() -> Result<json> {
      acted = true;
      if (delivery <= int_field(input, "fail_times", 0)) {
        return Error::of(codes::kUnavailable,
                         "failing on purpose (delivery " + std::to_string(delivery) + ")");
      }
      if (int_field(input, "run", 0) < int_field(input, "fail_runs", 0)) {
        return Error::of(codes::kFailedPrecondition, "refused on purpose");
      }
      db_.prepare(
             "INSERT INTO effects(key, action, kind, workflow_id, input, at)"
             " VALUES (?, ?, ?, ?, ?, ?)")
          .bind(1, key)
          .bind(2, request.type)
          .bind(3, kind)
          .bind(4, request.correlation_id)
          .bind(5, input.dump())
          .bind(6, now_iso8601())
          .step();
      json reply{{"key", key},
                 {"action", request.type},
                 {"kind", kind},
                 {"effect", db_.last_insert_rowid()}};
      if (input.is_object() && input.contains("value"))
        reply["value"] = input["value"];
      return reply;
    });
    if (!acted) {
      db_.prepare("UPDATE deliveries SET suppressed = suppressed + 1 WHERE key = ?")
          .bind(1, key)
          .step();
    }
    return outcome;
  }

 private:
  std::int64_t count_delivery(const std::string& key) {
    std::lock_guard lock(mu_);
    db_.prepare(
           "INSERT INTO deliveries(key, count) VALUES (?, 1)"
           " ON CONFLICT(key) DO UPDATE SET count = count + 1")
        .bind(1, key)
        .step();
    auto q = db_.prepare("SELECT count FROM deliveries WHERE key = ?");
    q.bind(1, key);
    q.step();
    return q.int64(0);
  }

  std::mutex mu_;  // the Db is not thread-safe: every use goes through this lock
  sqlite::Db db_;
  messaging::SqliteIdempotencyStore store_;
};

}  // namespace

int main() {
  runtime::block_shutdown_signals();
  try {
    const std::string mode = env::get("WONDERLAND_WORKER_MODE", "effects");
    const std::string service = env::get("WONDERLAND_WORKER_SERVICE", "worker");
    const messaging::QueueName queue{env::get("WONDERLAND_QUEUE_PREFIX", "") + service +
                                     ".commands"};
    auto options = messaging::ConnectionOptions::from_env("test-" + service);
    options.publisher_confirms = false;  // replies only: the caller's timeout covers a loss
    messaging::Connection connection(options);

    std::unique_ptr<EffectWorker> worker;
    messaging::RpcServerOptions server_options;
    server_options.queue = queue;
    server_options.prefetch =
        static_cast<std::uint16_t>(env::get_int("WONDERLAND_WORKER_PREFETCH", 256));
    messaging::RpcHandler handler;
    if (mode == "echo") {
      server_options.concurrency = 0;
      handler = [](const messaging::Envelope& request) -> Result<json> { return request.body; };
    } else if (mode == "effects") {
      std::string db = env::get("WONDERLAND_WORKER_DB", "");
      if (db.empty())
        throw std::runtime_error("WONDERLAND_WORKER_DB is required in effects mode");
      worker = std::make_unique<EffectWorker>(db);
      server_options.concurrency =
          static_cast<unsigned>(env::get_int("WONDERLAND_WORKER_THREADS", 8));
      handler = [w = worker.get()](const messaging::Envelope& request) {
        return w->handle(request);
      };
    } else {
      throw std::runtime_error("WONDERLAND_WORKER_MODE must be effects or echo");
    }
    {
      messaging::RpcServer server(connection, server_options, handler);
      std::printf("worker ready on %s (%s)\n", queue.str().c_str(), mode.c_str());
      std::fflush(stdout);
      runtime::wait_for_shutdown();
    }
    if (env::get_bool("WONDERLAND_WORKER_DELETE_QUEUES", false)) {
      connection.delete_queue(queue);
      connection.delete_queue(messaging::dead_letter_queue_for(queue));
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "worker failed: %s\n", e.what());
    return 1;
  }
}
