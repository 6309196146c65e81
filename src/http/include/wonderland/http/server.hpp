// An HTTP/1.1 server on Boost.Beast: keep-alive, one request at a time per connection
// (pipelined requests are answered in order), timeouts, body limits, graceful stop.
//
//   Server server({.address = "0.0.0.0", .port = 8080});
//   server.router().add(Method::get, "/healthz", [](const Request&) {
//     return Response::json({{"status", "ok"}});
//   });
//   server.start();                // binds and listens; throws std::system_error on failure
//   ... server.port() ...          // the bound port (useful with port 0)
//   server.stop();                 // graceful; also done by the destructor
//
// Behaviour
//   * Each connection runs on its own strand; handlers of one connection never run
//     concurrently, handlers of different connections do (on `threads` I/O threads).
//   * Errors are application/problem+json: unknown path 404, wrong method 405 (+ Allow),
//     body over `body_limit` 413 (before reading it when Content-Length says so), header over
//     `header_limit` 431, malformed request 400, handler not completing within
//     `response_timeout` 504, handler exception 500 (or its ErrorException's status).
//   * `Expect: 100-continue` is honoured. Responses carry Date, Server and Content-Length.
//   * Every response (handlers', static files, problems, event streams) also carries the
//     hardening headers `Content-Security-Policy: default-src 'self'; frame-ancestors 'none'`,
//     `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer` (kSecurityHeaders).
//   * At most `max_connections` connections are open at once: one accepted beyond that gets a
//     short `503` with `Retry-After: 1` and `Connection: close`, written without waiting
//     (what does not fit in the socket's buffer is dropped), and is closed at once; it never
//     reaches a handler and holds nothing afterwards.
//   * Every response is logged at debug level through spdlog's default logger:
//     "http GET /api/books 200 0.4ms" (path without query: queries may hold secrets).
//   * stop(): stops accepting, closes idle connections and event streams, lets requests in
//     flight complete (their responses say Connection: close) for up to `stop_timeout`, then
//     closes what is left and joins the threads. Responders and event streams used after that
//     do nothing.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "wonderland/http/router.hpp"

namespace wonderland::http {

namespace detail {
struct ServerCore;
}

struct ServerOptions {
  std::string address = "127.0.0.1";
  /// 0 picks an ephemeral port; read it with Server::port() after start().
  std::uint16_t port = 0;
  /// I/O threads (at least 1).
  unsigned threads = 2;
  /// Largest request body accepted (413 beyond).
  std::size_t body_limit = 1 << 20;
  /// Largest request header block accepted (431 beyond).
  std::size_t header_limit = 16 << 10;
  /// How long a connection may wait for (the header of) its next request.
  std::chrono::milliseconds idle_timeout{60'000};
  /// How long reading a request body, or writing a response, may take.
  std::chrono::milliseconds request_timeout{30'000};
  /// How long an async handler may take to complete before the client gets a 504.
  std::chrono::milliseconds response_timeout{30'000};
  /// How long stop() waits for requests in flight before closing connections.
  std::chrono::milliseconds stop_timeout{5'000};
  /// Value of the Server header.
  std::string server_name = "wonderland";
  /// Most connections open at once (event streams included); 0: no limit.
  std::size_t max_connections = 1024;
};

/// The hardening headers of every response, as (name, value) pairs.
inline constexpr std::pair<std::string_view, std::string_view> kSecurityHeaders[] = {
    {"Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'"},
    {"X-Content-Type-Options", "nosniff"},
    {"Referrer-Policy", "no-referrer"},
};

struct ServerStats {
  std::size_t open_connections = 0;
  std::size_t event_streams = 0;
  std::uint64_t requests = 0;
  /// Connections closed at once because `max_connections` were open.
  std::uint64_t shed_connections = 0;
};

class Server {
 public:
  using Options = ServerOptions;

  explicit Server(Options options = {});
  ~Server();  ///< stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// The routes; add them before start().
  Router& router();

  /// Binds, listens and starts the I/O threads. Throws std::system_error when the address
  /// cannot be bound, std::logic_error when called twice.
  void start();
  /// Graceful stop (see above). Idempotent; a stopped server cannot be started again.
  /// Blocks until the I/O threads have ended, so it must not be called from a handler.
  void stop();

  /// The bound port; 0 before start().
  std::uint16_t port() const { return port_; }
  /// "http://<address>:<port>".
  std::string url() const;
  ServerStats stats() const;

 private:
  class Impl;
  std::shared_ptr<detail::ServerCore> core_;
  std::unique_ptr<Impl> impl_;
  std::uint16_t port_ = 0;
};

}  // namespace wonderland::http
