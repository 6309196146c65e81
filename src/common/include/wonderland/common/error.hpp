// Errors as values: the canonical error codes every Wonderland boundary speaks.
//
// Across components (RPC replies, HTTP problem documents) an error is a value
// `{code, message, retryable}`. The code is one of a small canonical set; the caller decides
// from `retryable` whether to try again, compensate or fail. Inside a component exceptions
// are fine; convert them at the boundary with `Error::from_exception`.
#pragma once

#include <exception>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace wonderland {

/// Canonical error codes. Pick the most specific one; the comment says whether it is retryable
/// by default. The code is an enum so that a misspelt code does not compile; its string form
/// (`to_string`, `parse_code`) exists only at the wire: RPC replies, problem documents,
/// workflow definitions and the journal.
enum class Code : unsigned char {
  kInvalidArgument,     // no: the input is wrong
  kNotFound,            // no
  kConflict,            // no: already exists / taken
  kFailedPrecondition,  // no: state forbids it
  kUnauthenticated,     // no
  kPermissionDenied,    // no
  kResourceExhausted,   // yes: back off
  kUnavailable,         // yes: transient
  kDeadlineExceeded,    // yes
  kAborted,             // yes: concurrency clash
  kCancelled,           // no
  kInternal,            // no: a bug
};

/// The canonical codes by their usual spelling: `codes::kNotFound` is `Code::kNotFound`.
namespace codes {
inline constexpr Code kInvalidArgument = Code::kInvalidArgument;
inline constexpr Code kNotFound = Code::kNotFound;
inline constexpr Code kConflict = Code::kConflict;
inline constexpr Code kFailedPrecondition = Code::kFailedPrecondition;
inline constexpr Code kUnauthenticated = Code::kUnauthenticated;
inline constexpr Code kPermissionDenied = Code::kPermissionDenied;
inline constexpr Code kResourceExhausted = Code::kResourceExhausted;
inline constexpr Code kUnavailable = Code::kUnavailable;
inline constexpr Code kDeadlineExceeded = Code::kDeadlineExceeded;
inline constexpr Code kAborted = Code::kAborted;
inline constexpr Code kCancelled = Code::kCancelled;
inline constexpr Code kInternal = Code::kInternal;
}  // namespace codes

/// The wire form of a code: "invalid_argument", "not_found", ...
std::string_view to_string(Code code) noexcept;

/// The code with this wire form; nullopt for anything else (say so, do not guess).
std::optional<Code> parse_code(std::string_view text) noexcept;

/// JSON holds a code as its wire form (never as a number); reading anything else throws.
void to_json(nlohmann::json& j, Code code);
void from_json(const nlohmann::json& j, Code& code);

/// Returns whether errors with this canonical code are retryable by default.
bool retryable_by_default(Code code) noexcept;

/// One invalid input field, for validation errors (`invalid_argument`).
struct FieldError {
  std::string field;
  std::string message;
  friend bool operator==(const FieldError&, const FieldError&) = default;
};

/// An error value. `retryable` tells the caller whether the same request may succeed later.
struct Error {
  Code code = Code::kInternal;
  std::string message;
  bool retryable = false;
  /// For invalid_argument: which fields are wrong and why (shown next to the form field).
  std::vector<FieldError> fields = {};

  /// Makes an error whose retryability follows the code's default.
  static Error of(Code code, std::string message);
  /// An `invalid_argument` error naming the fields that are wrong.
  static Error invalid(std::string message, std::vector<FieldError> fields);
  /// The same error with retryability set explicitly, for the rare error that differs from its
  /// code's default (say why where it is used).
  Error with_retryable(bool retry) &&;
  /// Converts a caught exception: `ErrorException` keeps its error, anything else is internal.
  static Error from_exception(const std::exception& e);

  nlohmann::json to_json() const;
  /// Parses `{code, message, retryable, fields?}`; throws std::invalid_argument when malformed
  /// or when the code is not a canonical one.
  static Error from_json(const nlohmann::json& j);

  friend bool operator==(const Error&, const Error&) = default;
};

/// An exception that carries an `Error`, for code that prefers to throw inside a component.
class ErrorException : public std::runtime_error {
 public:
  explicit ErrorException(Error error)
      : std::runtime_error(std::string(to_string(error.code)) + ": " + error.message),
        error_(std::move(error)) {}
  const Error& error() const noexcept { return error_; }

 private:
  Error error_;
};

/// Either a value or an `Error`. A small stand-in for C++23 std::expected.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  /// The value; throws ErrorException when this holds an error.
  T& value() & {
    if (!ok())
      throw ErrorException(std::get<1>(v_));
    return std::get<0>(v_);
  }
  const T& value() const& {
    if (!ok())
      throw ErrorException(std::get<1>(v_));
    return std::get<0>(v_);
  }
  T&& value() && {
    if (!ok())
      throw ErrorException(std::get<1>(v_));
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
inline Status ok_status() {
  return Unit{};
}

}  // namespace wonderland
