// Errors as values: the canonical error codes every Wonderland boundary speaks.
//
// Across components (RPC replies, HTTP problem documents) an error is a value
// `{code, message, retryable}`. The code is one of a small canonical set; the caller decides
// from `retryable` whether to try again, compensate or fail. Inside a component exceptions
// are fine; convert them at the boundary with `Error::from_exception`.
#pragma once

#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace wonderland {

/// Canonical error codes. Pick the most specific one; the comment says whether it is retryable
/// by default.
namespace codes {
inline constexpr const char* kInvalidArgument = "invalid_argument";        // no: the input is wrong
inline constexpr const char* kNotFound = "not_found";                      // no
inline constexpr const char* kConflict = "conflict";                       // no: already exists / taken
inline constexpr const char* kFailedPrecondition = "failed_precondition";  // no: state forbids it
inline constexpr const char* kUnauthenticated = "unauthenticated";         // no
inline constexpr const char* kPermissionDenied = "permission_denied";      // no
inline constexpr const char* kResourceExhausted = "resource_exhausted";    // yes: back off
inline constexpr const char* kUnavailable = "unavailable";                 // yes: transient
inline constexpr const char* kDeadlineExceeded = "deadline_exceeded";      // yes
inline constexpr const char* kAborted = "aborted";                         // yes: concurrency clash
inline constexpr const char* kCancelled = "cancelled";                     // no
inline constexpr const char* kInternal = "internal";                       // no: a bug
}  // namespace codes

/// Returns whether errors with this canonical code are retryable by default.
bool retryable_by_default(const std::string& code);

/// One invalid input field, for validation errors (`invalid_argument`).
struct FieldError {
  std::string field;
  std::string message;
  friend bool operator==(const FieldError&, const FieldError&) = default;
};

/// An error value. `retryable` tells the caller whether the same request may succeed later.
struct Error {
  std::string code;
  std::string message;
  bool retryable = false;
  /// For invalid_argument: which fields are wrong and why (shown next to the form field).
  std::vector<FieldError> fields = {};

  /// Makes an error whose retryability follows the code's default.
  static Error of(std::string code, std::string message);
  /// Converts a caught exception: `ErrorException` keeps its error, anything else is internal.
  static Error from_exception(const std::exception& e);

  nlohmann::json to_json() const;
  /// Parses `{code, message, retryable, fields?}`; throws std::invalid_argument when malformed.
  static Error from_json(const nlohmann::json& j);

  friend bool operator==(const Error&, const Error&) = default;
};

/// An exception that carries an `Error`, for code that prefers to throw inside a component.
class ErrorException : public std::runtime_error {
 public:
  explicit ErrorException(Error error)
      : std::runtime_error(error.code + ": " + error.message), error_(std::move(error)) {}
  const Error& error() const noexcept { return error_; }

 private:
  Error error_;
};

/// Either a value or an `Error`. A small stand-in for C++23 std::expected.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}      // NOLINT(google-explicit-constructor)

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  /// The value; throws ErrorException when this holds an error.
  T& value() & {
    if (!ok()) throw ErrorException(std::get<1>(v_));
    return std::get<0>(v_);
  }
  const T& value() const& {
    if (!ok()) throw ErrorException(std::get<1>(v_));
    return std::get<0>(v_);
  }
  T&& value() && {
    if (!ok()) throw ErrorException(std::get<1>(v_));
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  /// The error; undefined when ok().
  const Error& error() const& { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

/// A Result without a value.
struct Unit {
  friend bool operator==(const Unit&, const Unit&) = default;
};
using Status = Result<Unit>;
inline Status ok_status() { return Unit{}; }

}  // namespace wonderland
