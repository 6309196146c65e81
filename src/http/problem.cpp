#include "wonderland/http/problem.hpp"

#include <algorithm>
#include <utility>

namespace wonderland::http {

Problem Problem::of(StatusCode status, std::string detail, std::optional<Code> code) {
  Problem p;
  p.status = status;
  p.detail = std::move(detail);
  p.code = code;
  p.retryable = code && retryable_by_default(*code);
  return p;
}

Problem Problem::from_error(const Error& error, std::string instance) {
  Problem p;
  p.status = status_for_code(error.code);
  p.detail = error.message;
  p.instance = std::move(instance);
  p.code = error.code;
  p.retryable = error.retryable;
  p.errors = error.fields;
  return p;
}

nlohmann::json Problem::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  if (extensions.is_object())
    j = extensions;
  j["type"] = type.empty() ? std::string("about:blank") : type;
  j["title"] = title.empty() ? std::string(boost::beast::http::obsolete_reason(status)) : title;
  j["status"] = static_cast<unsigned>(status);
  if (!detail.empty())
    j["detail"] = detail;
  if (!instance.empty())
    j["instance"] = instance;
  j["code"] = to_string(code.value_or(code_for_status(status)));
  if (retryable) {
    j["retryable"] = true;
  } else {
    j.erase("retryable");
  }
  if (auto after = effective_retry_after()) {
    j["retry_after"] = after->count();
  } else {
    j.erase("retry_after");
  }
  if (!errors.empty()) {
    auto& arr = j["errors"] = nlohmann::json::array();
    for (const auto& e : errors)
      arr.push_back({{"field", e.field}, {"message", e.message}});
  } else {
    j.erase("errors");
  }
  return j;
}

std::optional<std::chrono::seconds> Problem::effective_retry_after() const {
  if (retry_after)
    return std::max(*retry_after, std::chrono::seconds(1));
  if (status == StatusCode::too_many_requests || status == StatusCode::service_unavailable) {
    return std::chrono::seconds(1);
  }
  return std::nullopt;
}

std::chrono::seconds Problem::seconds_ceil(std::chrono::milliseconds duration) {
  return std::max(std::chrono::ceil<std::chrono::seconds>(duration), std::chrono::seconds(1));
}

StatusCode status_for_code(Code code) {
  switch (code) {
    case Code::kInvalidArgument:
      return StatusCode::bad_request;
    case Code::kUnauthenticated:
      return StatusCode::unauthorized;
    case Code::kPermissionDenied:
      return StatusCode::forbidden;
    case Code::kNotFound:
      return StatusCode::not_found;
    case Code::kConflict:
    case Code::kAborted:
      return StatusCode::conflict;
    case Code::kFailedPrecondition:
      return StatusCode::unprocessable_entity;
    case Code::kResourceExhausted:
      return StatusCode::too_many_requests;
    case Code::kUnavailable:
    case Code::kCancelled:
      return StatusCode::service_unavailable;
    case Code::kDeadlineExceeded:
      return StatusCode::gateway_timeout;
    case Code::kInternal:
      break;
  }
  return StatusCode::internal_server_error;
}

Code code_for_status(StatusCode status) {
  switch (status) {
    case StatusCode::unauthorized:
      return codes::kUnauthenticated;
    case StatusCode::forbidden:
      return codes::kPermissionDenied;
    case StatusCode::not_found:
      return codes::kNotFound;
    case StatusCode::request_timeout:
    case StatusCode::gateway_timeout:
      return codes::kDeadlineExceeded;
    case StatusCode::conflict:
      return codes::kConflict;
    case StatusCode::unprocessable_entity:
      return codes::kFailedPrecondition;
    case StatusCode::too_many_requests:
      return codes::kResourceExhausted;
    case StatusCode::bad_gateway:
    case StatusCode::service_unavailable:
      return codes::kUnavailable;
    default:
      break;
  }
  auto n = static_cast<unsigned>(status);
  if (n >= 400 && n < 500)
    return codes::kInvalidArgument;
  return codes::kInternal;
}

}  // namespace wonderland::http
