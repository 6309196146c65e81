// The one place where what a SQLite-backed store throws becomes an Error value, at the boundary
// of its commands.
//
//   Result<json> r = sqlite::guarded({"the payment ledger", log_failure}, "charge",
//                                    [&]() -> Result<json> { ... });
//
// The body runs as it is; what it throws becomes:
//   * ErrorException: its error, unchanged;
//   * SqliteError that is busy() (the database stayed locked beyond the busy timeout): a
//     retryable `unavailable`, "<store> is busy; try again";
//   * any other SqliteError: `internal`, "error in <store>" (the SQLite message goes to the log,
//     never to the caller);
//   * any other std::exception: `internal`, "<operation> failed".
// The sqlite component does not log: every failure but an ErrorException is handed to the
// store's `report` function, which logs it (a busy database is transient: a warning).
#pragma once

#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "wonderland/common/error.hpp"
#include "wonderland/sqlite/db.hpp"

namespace wonderland::sqlite {

/// One failure guarded() turned into an Error, for the store's log.
struct Failure {
  enum class Kind {
    kBusy,      ///< the database stayed locked: transient, worth a warning
    kDatabase,  ///< any other SQLite error
    kOther,     ///< any other exception
  };
  Kind kind = Kind::kOther;
  std::string_view operation;  ///< the command or query, e.g. "charge"
  std::string_view what;       ///< the exception's message

  bool transient() const { return kind == Kind::kBusy; }
  /// "<operation>: database busy: <what>", "<operation>: database error: <what>" or
  /// "<operation>: <what>".
  std::string message() const {
    std::string text(operation);
    text += kind == Kind::kBusy       ? ": database busy: "
            : kind == Kind::kDatabase ? ": database error: "
                                      : ": ";
    text += what;
    return text;
  }
};

/// The store a guarded() call runs against.
struct GuardedStore {
  /// The store's human name in error messages, e.g. "the payment ledger".
  std::string_view name;
  /// Receives every failure mapped to an Error (ErrorException excepted); may be empty.
  std::function<void(const Failure&)> report;
};

/// Runs `body` (which returns a Result) and returns its result, or the Error for what it threw
/// (see the top of this file).
template <class F>
std::invoke_result_t<F> guarded(const GuardedStore& store, std::string_view operation, F&& body) {
  const auto failed = [&](Failure::Kind kind, const std::exception& e) {
    if (store.report)
      store.report(Failure{kind, operation, e.what()});
  };
  try {
    return std::forward<F>(body)();
  } catch (const ErrorException& e) {
    return e.error();
  } catch (const SqliteError& e) {
    failed(e.busy() ? Failure::Kind::kBusy : Failure::Kind::kDatabase, e);
    if (e.busy())
      return Error::of(codes::kUnavailable, std::string(store.name) + " is busy; try again");
    return Error::of(codes::kInternal, "error in " + std::string(store.name));
  } catch (const std::exception& e) {
    failed(Failure::Kind::kOther, e);
    return Error::of(codes::kInternal, std::string(operation) + " failed");
  }
}

}  // namespace wonderland::sqlite
