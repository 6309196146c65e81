// Logging the failures a store turned into error values: a transient one (the caller may try
// again) is a warning, any other an error. The store's own library needs no logging for it:
//
//   static const sqlite::GuardedStore ledger{"the payment ledger",
//                                            log::report_failure<sqlite::Failure>};
#pragma once

#include "wonderland/log/log.hpp"

namespace wonderland::log {

/// Writes `failure.message()` as a warning when `failure.transient()`, else as an error.
/// `Failure` is any report with those two members, such as sqlite::Failure.
template <class Failure>
void report_failure(const Failure& failure) {
  write(failure.transient() ? Severity::kWarning : Severity::kError, {}, failure.message());
}

}  // namespace wonderland::log
