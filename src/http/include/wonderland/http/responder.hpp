// Completing a request later, from any thread: the handle an asynchronous handler receives.
//
//   router.add_async(Method::post, "/api/orders", [&rpc](const Request& req, Responder r) {
//     rpc.call(make_request(req), [r](Result<Envelope> reply) {        // runs on the RPC thread
//       if (!reply) return void(r.respond(reply.error()));
//       r.respond(Response::created("/api/orders/" + id_of(*reply), body_of(*reply)));
//     });
//   });
//
// Guarantees
//   * respond() may be called from any thread, at any time, also after the client or the
//     server has gone (it is then dropped). It never blocks on I/O: the response is posted to
//     the connection's strand, which writes it.
//   * Exactly one completion wins: the first of respond(), start_events() and the server's
//     response timeout (504). Later calls return false.
//   * A Responder is cheap to copy; all copies share one request. When the last copy is
//     destroyed without a completion the client gets a 500 problem, so a request never hangs.
//   * The Request passed to the handler stays valid while any copy exists (see request()).
#pragma once

#include <memory>

#include "wonderland/common/error.hpp"
#include "wonderland/http/event_stream.hpp"
#include "wonderland/http/request.hpp"
#include "wonderland/http/response.hpp"

namespace wonderland::http {

namespace detail {
struct Exchange;
}

class Responder {
 public:
  explicit Responder(std::shared_ptr<detail::Exchange> exchange) : exchange_(std::move(exchange)) {}

  /// Completes the request with `response`. Returns false when it was already completed.
  bool respond(Response response) const;
  /// Completes the request with the problem for `error` (instance: the request path).
  bool respond(const Error& error) const;
  /// Turns the response into a server-sent event stream (200, text/event-stream,
  /// Cache-Control: no-cache; the connection closes when the stream ends). When the request
  /// was already completed or the connection is gone, the returned stream is already closed.
  std::shared_ptr<EventStream> start_events(EventStreamOptions options = {}) const;

  /// Whether a completion has happened (or the server's timeout fired).
  bool done() const;
  /// Whether the connection has closed (client gone, timeout or server stop); a handler may
  /// then give up early.
  bool cancelled() const;
  /// The request; valid as long as this Responder.
  const Request& request() const;

 private:
  std::shared_ptr<detail::Exchange> exchange_;
};

}  // namespace wonderland::http
