// Problem details (RFC 9457): the body of every error response, `application/problem+json`.
//
//   {"type": "about:blank", "title": "Not Found", "status": 404,
//    "detail": "no book with ISBN 978-0", "instance": "/api/books/978-0", "code": "not_found"}
//
// Validation errors add `errors: [{field, message}]`. Besides the RFC members every problem
// carries the canonical error code (`code`, see wonderland/common/error.hpp) and, when the
// same request may succeed later, `retryable: true`.
//
// Mapping of canonical codes to statuses (`status_for_code`):
//   invalid_argument 400, unauthenticated 401, permission_denied 403, not_found 404,
//   conflict 409, failed_precondition 422, aborted 409 (retryable), resource_exhausted 429,
//   unavailable 503, cancelled 503 (the server gave up on the work, e.g. while stopping),
//   deadline_exceeded 504, internal and anything unknown 500.
// failed_precondition maps to 422 Unprocessable Content: the request is well-formed and
// understood, but the state it meets forbids it (an Idempotency-Key reused for another request,
// a declined card); 409 stays for clashes with existing resources (conflict, aborted).
//
// A 429 or 503 tells the client when to come back: `retry_after` (whole seconds, rounded up
// from the throttle's or caller's figure) becomes the `Retry-After` header and the
// `retry_after` member; a 503 without one says 1 second, a 429 without one says 1 second too.
#pragma once

#include <boost/beast/http/status.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wonderland/common/error.hpp"

namespace wonderland::http {

/// An HTTP status code (200, 404, ...); not to be confused with `wonderland::Status`, the
/// outcome of an operation without a value.
using StatusCode = boost::beast::http::status;

/// The media type of problem documents.
inline constexpr std::string_view kProblemContentType = "application/problem+json";

/// An RFC 9457 problem document.
struct Problem {
  StatusCode status = StatusCode::internal_server_error;
  /// A URI reference naming the problem type; "about:blank" means "see the status code".
  std::string type = "about:blank";
  /// Short summary; empty means the status's reason phrase.
  std::string title;
  /// Human-readable explanation specific to this occurrence.
  std::string detail;
  /// URI reference of this occurrence, usually the request path; omitted when empty.
  std::string instance;
  /// The canonical error code; none means derived from the status (`code_for_status`).
  std::optional<Code> code;
  bool retryable = false;
  /// Field-level validation errors; omitted when empty.
  std::vector<FieldError> errors;
  /// When the client may try again (429 and 503; see the header comment).
  std::optional<std::chrono::seconds> retry_after;
  /// Extra members merged into the document (must be an object or null; never overrides the
  /// members above).
  nlohmann::json extensions;

  /// Makes a problem with the given status, detail and optional canonical code.
  static Problem of(StatusCode status, std::string detail, std::optional<Code> code = {});
  /// Converts an error value: status from its code, detail from its message, `errors` from
  /// its fields, `retryable` kept.
  static Problem from_error(const Error& error, std::string instance = {});

  /// The JSON document: type, title, status, detail?, instance?, code, retryable?, errors?,
  /// retry_after?.
  nlohmann::json to_json() const;
  /// The Retry-After figure this problem is answered with: `retry_after` when set, else 1 s for
  /// 429 and 503; nullopt for other statuses without one.
  std::optional<std::chrono::seconds> effective_retry_after() const;

  /// `duration` in whole seconds, rounded up, at least 1.
  static std::chrono::seconds seconds_ceil(std::chrono::milliseconds duration);
};

/// HTTP status for a canonical error code (table in the header comment).
StatusCode status_for_code(Code code);

/// Canonical code for an HTTP status, used when a problem has none: 401 unauthenticated,
/// 403 permission_denied, 404 not_found, 408 deadline_exceeded, 409 conflict,
/// 422 failed_precondition, 429 resource_exhausted, other 4xx invalid_argument,
/// 502 and 503 unavailable, 504 deadline_exceeded, other 5xx internal.
Code code_for_status(StatusCode status);

}  // namespace wonderland::http
