// The service-side idempotency helper: at-least-once delivery + deduplication = exactly-once
// effects.
//
// Every command carries an idempotency key that stays the same across retries and restarts
// (docs/messages.md). A service records, in the same transaction as the command's effects, the
// key and the reply it gave. When the key comes again it returns the recorded reply instead of
// acting again. Storage is the service's own; this interface is what every service implements
// on top of its database (SQLite or PostgreSQL), and `deduplicated` is the one way to use it.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "wonderland/common/error.hpp"

namespace wonderland::messaging {

/// A recorded outcome of a command: its reply body or its error.
struct RecordedOutcome {
  std::optional<nlohmann::json> reply;
  std::optional<Error> error;
};

/// Storage for outcomes by idempotency key. `run_once` must look the key up and, when absent,
/// run `effect` and store its outcome atomically with the effect's own writes (one transaction),
/// so that a crash leaves either both or neither.
class IdempotencyStore {
 public:
  virtual ~IdempotencyStore() = default;
  virtual Result<nlohmann::json> run_once(
      const std::string& key, const std::function<Result<nlohmann::json>()>& effect) = 0;
};

/// Runs `effect` at most once per key through `store`. Retryable errors are not recorded, so a
/// later retry with the same key runs the effect again; final errors are, so a retry gets the
/// same answer. An empty key is refused with invalid_argument.
Result<nlohmann::json> deduplicated(IdempotencyStore& store, const std::string& key,
                                    const std::function<Result<nlohmann::json>()>& effect);

}  // namespace wonderland::messaging
