// How the SQLite journal reports failures: wonderland::sqlite throws SqliteError, the Journal
// interface returns error values. guard_sqlite() is the one place that turns the one into the
// other.
#pragma once

#include <string>

#include "wonderland/common/error.hpp"
#include "wonderland/sqlite/db.hpp"

namespace wonderland::workflow::detail {

/// `unavailable` (retryable) when the database was busy or locked, `internal` otherwise.
inline Error sqlite_error(const sqlite::SqliteError& e) {
  return Error::of(e.busy() ? codes::kUnavailable : codes::kInternal,
                   std::string("sqlite: ") + e.what());
}

/// Runs `fn` (which returns a Status or a Result), turning a thrown SqliteError into its error
/// value.
template <class F>
auto guard_sqlite(F&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const sqlite::SqliteError& e) {
    return sqlite_error(e);
  }
}

}  // namespace wonderland::workflow::detail
