#include "wonderland/http/problem.hpp"

#include <algorithm>
#include <utility>

namespace wonderland::http {

Problem Problem::of(Status status, std::string detail, std::string code) {
  Problem p;
  p.status = status;
  p.detail = std::move(detail);
  p.code = std::move(code);
  p.retryable = !p.code.empty() && retryable_by_default(p.code);
  return p;
}

Problem Problem::from_error(const Error& error, std::string instance) {
  Problem p;
  p.status = status_for_code(error.code);
  p.detail = error.message;
  p.instance = std::move(instance);
  p.code = error.code.empty() ? std::string(codes::kInternal) : error.code;
  p.retryable = error.retryable;
  p.errors = error.fields;
  return p;
}

nlohmann::json Problem::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  if (extensions.is_object()) j = extensions;
  j["type"] = type.empty() ? std::string("about:blank") : type;
  j["title"] = title.empty() ? std::string(boost::beast::http::obsolete_reason(status)) : title;
  j["status"] = static_cast<unsigned>(status);
  if (!detail.empty()) j["detail"] = detail;
  if (!instance.empty()) j["instance"] = instance;
  j["code"] = code.empty() ? std::string(code_for_status(status)) : code;
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
    for (const auto& e : errors) arr.push_back({{"field", e.field}, {"message", e.message}});
  } else {
    j.erase("errors");
  }
  return j;
}

std::optional<std::chrono::seconds> Problem::effective_retry_after() const {
  if (retry_after) return std::max(*retry_after, std::chrono::seconds(1));
  if (status == Status::too_many_requests || status == Status::service_unavailable) {
    return std::chrono::seconds(1);
  }
  return std::nullopt;
}

std::chrono::seconds Problem::seconds_ceil(std::chrono::milliseconds duration) {
  return std::max(std::chrono::ceil<std::chrono::seconds>(duration), std::chrono::seconds(1));
}

Status status_for_code(std::string_view code) {
  if (code == codes::kInvalidArgument) return Status::bad_request;
  if (code == codes::kUnauthenticated) return Status::unauthorized;
  if (code == codes::kPermissionDenied) return Status::forbidden;
  if (code == codes::kNotFound) return Status::not_found;
  if (code == codes::kConflict || code == codes::kAborted) return Status::conflict;
  if (code == codes::kFailedPrecondition) return Status::unprocessable_entity;
  if (code == codes::kResourceExhausted) return Status::too_many_requests;
  if (code == codes::kUnavailable || code == codes::kCancelled) return Status::service_unavailable;
  if (code == codes::kDeadlineExceeded) return Status::gateway_timeout;
  return Status::internal_server_error;
}

std::string_view code_for_status(Status status) {
  switch (status) {
    case Status::unauthorized:
      return codes::kUnauthenticated;
    case Status::forbidden:
      return codes::kPermissionDenied;
    case Status::not_found:
      return codes::kNotFound;
    case Status::request_timeout:
    case Status::gateway_timeout:
      return codes::kDeadlineExceeded;
    case Status::conflict:
      return codes::kConflict;
    case Status::unprocessable_entity:
      return codes::kFailedPrecondition;
    case Status::too_many_requests:
      return codes::kResourceExhausted;
    case Status::bad_gateway:
    case Status::service_unavailable:
      return codes::kUnavailable;
    default:
      break;
  }
  auto n = static_cast<unsigned>(status);
  if (n >= 400 && n < 500) return codes::kInvalidArgument;
  return codes::kInternal;
}

}  // namespace wonderland::http
