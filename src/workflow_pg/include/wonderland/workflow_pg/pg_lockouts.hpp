// Failure counters with an exponential lock-out, kept in PostgreSQL so that several mediators
// share one budget per key (the sign-in throttles, src/mediator/throttle.hpp). Lives here because
// libpqxx stays inside src/workflow_pg; the table sits in the journal's schema.
//
// Table `throttle_failures` (scope, key, failures, last_at, locked_until), one row per scope and
// key, created at first use (under the journal's advisory lock). Each call is one statement, so
// an attempt is counted atomically however many mediators see the same key at once:
//  - attempt(): refuses while locked_until is ahead; otherwise counts a failure (from 1 again
//    when the last one is `forget_after` old) and sets the next lock-out, as the in-memory
//    throttle does. Times are the database's (now()), the one clock the mediators share.
//  - forgive() takes one failure back, reset() deletes the row.
//  - sweep() deletes the rows that are neither locked nor younger than `forget_after`; attempt()
//    calls it every 1024 calls.
// Errors are values (`unavailable` when the database cannot be reached); the connection is
// opened on first use and reopened after a loss. Thread-safe (one connection, one call at a time).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "wonderland/common/error.hpp"

namespace wonderland::workflow {

struct PgLockoutOptions {
  std::string url;     ///< libpq URL
  std::string schema;  ///< the journal's schema; empty: search_path
  std::string scope;   ///< which counters (`sign_in_user`, `sign_in_address`)
  std::uint64_t free_failures = 5;
  std::chrono::milliseconds base_lockout{1000};
  std::chrono::milliseconds max_lockout{60000};
  std::chrono::milliseconds forget_after{15 * 60 * 1000};
};

struct PgLockoutVerdict {
  bool allowed = true;
  std::chrono::milliseconds retry_after{0};  ///< when refused, > 0
};

class PgLockouts {
 public:
  struct Impl;
  /// Does not connect yet; `invalid_argument` for a bad schema name or an empty scope.
  static Result<std::unique_ptr<PgLockouts>> create(PgLockoutOptions options);
  explicit PgLockouts(std::unique_ptr<Impl> impl);
  ~PgLockouts();
  PgLockouts(const PgLockouts&) = delete;
  PgLockouts& operator=(const PgLockouts&) = delete;

  Result<PgLockoutVerdict> attempt(const std::string& key);
  Status forgive(const std::string& key);
  Status reset(const std::string& key);
  /// Deletes this scope's expired rows; returns how many.
  Result<std::int64_t> sweep();

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace wonderland::workflow
