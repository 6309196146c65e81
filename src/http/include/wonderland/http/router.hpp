// Routes: method + path pattern -> handler.
//
//   Router& r = server.router();
//   r.add(Method::get, "/api/books/{isbn}", [](const Request& req) {
//     return Response::json({{"isbn", *req.param("isbn")}});
//   });
//   r.add_async(Method::post, "/api/orders", place_order);   // completes later via Responder
//   r.add(Method::get, "/{path...}", static_files.handler()); // catch-all, lowest priority
//
// Patterns are '/'-separated segments: a literal, `{name}` (one segment) or, as the last
// segment only, `{name...}` (the rest of the path, possibly empty). A trailing '/' on a request
// path is ignored. Segments are percent-decoded before matching, so "{isbn}" may hold any
// character, including an encoded '/'.
//
// Matching: among the routes whose pattern fits the path, the most specific wins, comparing
// segment by segment from the left (literal before `{name}` before `{name...}`).
//   * no pattern fits, or only catch-all (`{name...}`) patterns fit and none has the method:
//     404;
//   * other patterns fit but none has the method: 405 with `Allow` (OPTIONS: 204 with Allow);
//   * HEAD uses the GET route when there is no HEAD route (the body is stripped).
// Handlers run on an I/O thread: they must not block; long work belongs in an async handler.
// Routes are added before Server::start; afterwards add() throws std::logic_error.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "wonderland/http/request.hpp"
#include "wonderland/http/responder.hpp"
#include "wonderland/http/response.hpp"

namespace wonderland::http {

/// Returns the response right away. An exception becomes a problem response
/// (ErrorException: its error; anything else: 500).
using SyncHandler = std::function<Response(const Request&)>;
/// Completes through the Responder, now or later from any thread. An exception thrown before
/// completing becomes a problem response as for SyncHandler.
using AsyncHandler = std::function<void(const Request&, Responder)>;

class Router {
 public:
  struct Segment {
    enum class Kind { kLiteral, kParam, kRest } kind;
    std::string text;  ///< the literal, or the parameter name
  };
  struct Route {
    Method method;
    std::string pattern;
    std::vector<Segment> segments;
    std::variant<SyncHandler, AsyncHandler> handler;
  };
  struct Match {
    enum class Kind { kFound, kNotFound, kMethodNotAllowed, kBadPath } kind = Kind::kNotFound;
    const Route* route = nullptr;
    /// Decoded path parameters of the route.
    std::vector<std::pair<std::string, std::string>> params;
    /// For kMethodNotAllowed (and for OPTIONS): the allowed methods, "GET, HEAD, POST".
    std::string allow;
  };

  /// Adds a route. Throws std::invalid_argument for a malformed pattern or a route with the
  /// same method and shape as an existing one, std::logic_error once the server started.
  Router& add(Method method, std::string_view pattern, SyncHandler handler);
  Router& add_async(Method method, std::string_view pattern, AsyncHandler handler);

  /// Matches a raw (percent-encoded) path without query. kBadPath: a malformed escape.
  Match match(Method method, std::string_view path) const;

  std::size_t size() const { return routes_.size(); }
  /// Forbids further changes (the server calls it on start).
  void freeze() { frozen_ = true; }

 private:
  Router& add_route(Method method, std::string_view pattern,
                    std::variant<SyncHandler, AsyncHandler> handler);
  std::vector<std::unique_ptr<Route>> routes_;
  bool frozen_ = false;
};

}  // namespace wonderland::http
