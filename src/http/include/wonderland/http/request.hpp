// An HTTP request as a handler sees it: method, path, path parameters, decoded query, headers,
// body, and helpers for JSON bodies and bearer tokens.
//
//   auto isbn = req.param("isbn");                 // from the route "/api/books/{isbn}"
//   auto page = req.query("page");                 // decoded, nullopt when absent
//   auto token = req.bearer_token();               // "Authorization: Bearer <token>"
//   auto body = req.json_object();                 // Result<json>: a 400-ready Error otherwise
//   if (!body) return Response::error(body.error(), req.path());
//
// A Request is immutable once the handler runs; handlers get it by const reference. For an
// asynchronous handler it stays valid as long as any copy of its Responder exists.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wonderland/common/error.hpp"
#include "wonderland/http/url.hpp"

namespace wonderland::http {

using Method = boost::beast::http::verb;
using RawRequest = boost::beast::http::request<boost::beast::http::string_body>;

class Request {
 public:
  /// Builds a request from a parsed message. `path` is the raw (still encoded) path of the
  /// target, `query` its decoded query, `params` the decoded path parameters of the route.
  Request(RawRequest message, std::string path, QueryParams query,
          std::vector<std::pair<std::string, std::string>> params = {},
          std::string remote_address = {},
          std::chrono::steady_clock::time_point received = std::chrono::steady_clock::now());

  Method method() const { return message_.method(); }
  std::string_view method_string() const;
  /// The request target as sent, e.g. "/api/books?page=2".
  std::string_view target() const;
  /// The path part of the target, still percent-encoded, e.g. "/api/books/978%2D0".
  const std::string& path() const { return path_; }
  /// A decoded path parameter of the matched route, or nullopt when the route has none of
  /// that name. For "{rest...}" parameters the value is the decoded remainder ("a/b.css").
  std::optional<std::string_view> param(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& params() const { return params_; }

  /// The first decoded value of a query parameter, or nullopt.
  std::optional<std::string_view> query(std::string_view name) const { return query_.get(name); }
  const QueryParams& query_params() const { return query_; }

  /// A header's value (case-insensitive name; the first when repeated), or nullopt.
  std::optional<std::string_view> header(std::string_view name) const;
  const std::string& body() const { return message_.body(); }
  /// Whether the client asked to keep the connection open.
  bool keep_alive() const { return message_.keep_alive(); }

  /// The token of "Authorization: Bearer <token>" (scheme case-insensitive); nullopt when the
  /// header is missing, uses another scheme or the token is empty or has invalid characters.
  std::optional<std::string_view> bearer_token() const;

  /// Parses the body as JSON. Errors are `invalid_argument` with a message naming the problem
  /// ("request body is empty", "request body is not valid JSON: ... at line 1, column 7").
  /// The body is first checked against JsonLimits::http() (depth 64, strings of 64 KiB,
  /// 100,000 values): "request body: nesting depth exceeds the limit of 64 (at byte 68)".
  /// The Content-Type is not checked.
  Result<nlohmann::json> json_body() const;
  /// Like json_body, and also requires a JSON object ("request body must be a JSON object,
  /// got an array").
  Result<nlohmann::json> json_object() const;

  /// The client's address ("127.0.0.1:53412"); empty when unknown.
  const std::string& remote_address() const { return remote_; }
  /// When the request's header was complete.
  std::chrono::steady_clock::time_point received() const { return received_; }

  const RawRequest& raw() const { return message_; }

 private:
  RawRequest message_;
  std::string path_;
  QueryParams query_;
  std::vector<std::pair<std::string, std::string>> params_;
  std::string remote_;
  std::chrono::steady_clock::time_point received_;
};

}  // namespace wonderland::http
