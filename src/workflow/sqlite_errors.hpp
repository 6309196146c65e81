// How the SQLite journal reports failures: wonderland::sqlite throws SqliteError, the Journal
// interface returns error values. The journal is one more guarded SQLite store
// (wonderland/sqlite/guarded.hpp): busy is a retryable `unavailable`, anything else `internal`,
// and the SQLite message goes to the log.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>
#include <utility>

#include "wonderland/sqlite/guarded.hpp"

namespace wonderland::workflow::detail {

/// The journal as the store guarded() reports against.
inline const sqlite::GuardedStore& journal_store() {
  static const sqlite::GuardedStore store{"the workflow journal",
                                          [](const sqlite::Failure& failure) {
                                            if (failure.transient())
                                              spdlog::warn("journal: {}", failure.message());
                                            else
                                              spdlog::error("journal: {}", failure.message());
                                          }};
  return store;
}

/// Runs `fn` (which returns a Status or a Result) as the journal operation `operation`.
template <class F>
auto guard_sqlite(std::string_view operation, F&& fn) {
  return sqlite::guarded(journal_store(), operation, std::forward<F>(fn));
}

}  // namespace wonderland::workflow::detail
