// An HTTP response built by a handler.
//
//   return Response::json({{"isbn", isbn}, {"title", title}});              // 200
//   return Response::created("/api/orders/" + encode_path_segment(id), order);  // 201 + Location
//   return Response::no_content();                                          // 204
//   return Response::error(Error::of(codes::kNotFound, "no such book"), req.path());
//   return Response::text("pong").cache_control("no-cache");
//
// The server adds Date, Server, Content-Length, Connection and the hardening headers
// (Content-Security-Policy, X-Content-Type-Options, Referrer-Policy; see server.hpp) when it
// writes the response, and
// strips the body of responses to HEAD requests (keeping Content-Length).
// JSON and problem responses default to `Cache-Control: no-store`; replace it with
// `cache_control(...)` for cacheable resources.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "wonderland/common/error.hpp"
#include "wonderland/http/problem.hpp"

namespace wonderland::http {

using RawResponse = boost::beast::http::response<boost::beast::http::string_body>;

inline constexpr std::string_view kJsonContentType = "application/json";

class Response {
 public:
  /// An empty response with the given status (default 200) and no Content-Type.
  explicit Response(StatusCode status = StatusCode::ok);

  /// `body` serialized as application/json with Cache-Control: no-store.
  static Response json(const nlohmann::json& body, StatusCode status = StatusCode::ok);
  /// A 201 Created with a Location header and a JSON body.
  static Response created(std::string_view location, const nlohmann::json& body);
  /// A 204 No Content.
  static Response no_content();
  /// A text body; the content type should name a charset when it is text/*.
  static Response text(std::string body,
                       std::string_view content_type = "text/plain; charset=utf-8",
                       StatusCode status = StatusCode::ok);
  /// An application/problem+json response with the problem's status and Cache-Control:
  /// no-store; a 401 also gets `WWW-Authenticate: Bearer`, a 429 or 503 `Retry-After`.
  static Response problem(const Problem& problem);
  /// `problem(Problem::from_error(error, instance))`.
  static Response error(const Error& error, std::string_view instance = {});

  StatusCode status() const { return message_.result(); }
  Response& status(StatusCode status);
  /// Sets (replaces) a header.
  Response& header(std::string_view name, std::string_view value);
  /// A header's value, or nullopt.
  std::optional<std::string_view> header(std::string_view name) const;
  Response& content_type(std::string_view value) { return header("Content-Type", value); }
  Response& location(std::string_view url) { return header("Location", url); }
  Response& cache_control(std::string_view value) { return header("Cache-Control", value); }

  const std::string& body() const { return message_.body(); }
  Response& body(std::string body);

  RawResponse& raw() { return message_; }
  const RawResponse& raw() const { return message_; }

 private:
  RawResponse message_;
};

}  // namespace wonderland::http
