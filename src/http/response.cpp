#include "wonderland/http/response.hpp"

#include <string>
#include <utility>

namespace wonderland::http {

namespace bhttp = boost::beast::http;

Response::Response(StatusCode status) {
  message_.result(status);
  message_.version(11);
}

Response Response::json(const nlohmann::json& body, StatusCode status) {
  Response r(status);
  r.message_.set(bhttp::field::content_type, kJsonContentType);
  r.message_.set(bhttp::field::cache_control, "no-store");
  r.message_.body() = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

Response Response::created(std::string_view location, const nlohmann::json& body) {
  Response r = json(body, StatusCode::created);
  r.location(location);
  return r;
}

Response Response::no_content() {
  return Response(StatusCode::no_content);
}

Response Response::text(std::string body, std::string_view content_type, StatusCode status) {
  Response r(status);
  r.message_.set(bhttp::field::content_type, content_type);
  r.message_.body() = std::move(body);
  return r;
}

Response Response::problem(const Problem& problem) {
  Response r(problem.status);
  r.message_.set(bhttp::field::content_type, kProblemContentType);
  r.message_.set(bhttp::field::cache_control, "no-store");
  if (problem.status == StatusCode::unauthorized)
    r.message_.set(bhttp::field::www_authenticate, "Bearer");
  if (auto after = problem.effective_retry_after()) {
    r.message_.set(bhttp::field::retry_after, std::to_string(after->count()));
  }
  r.message_.body() =
      problem.to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

Response Response::error(const Error& error, std::string_view instance) {
  return problem(Problem::from_error(error, std::string(instance)));
}

Response& Response::status(StatusCode status) {
  message_.result(status);
  return *this;
}

Response& Response::header(std::string_view name, std::string_view value) {
  message_.set(name, value);
  return *this;
}

std::optional<std::string_view> Response::header(std::string_view name) const {
  auto it = message_.find(name);
  if (it == message_.end())
    return std::nullopt;
  auto v = it->value();
  return std::string_view(v.data(), v.size());
}

Response& Response::body(std::string body) {
  message_.body() = std::move(body);
  return *this;
}

}  // namespace wonderland::http
