// Server-sent events (text/event-stream): a long-lived response that pushes events.
//
//   router.add_async(Method::get, "/api/orders/{id}/events", [&hub](const Request& req, Responder
//   r) {
//     auto stream = r.start_events();                     // writes the 200 head on the I/O thread
//     auto key = hub.subscribe(std::string(*req.param("id")), stream);
//     stream->on_close([&hub, key] { hub.unsubscribe(key); });   // client gone or server stopping
//   });
//   // later, from any thread:
//   if (!stream->send("status", R"({"state":"shipped"})", "42")) { /* closed: drop it */ }
//
// Guarantees
//   * send/comment/close are thread-safe and never block on the network: events are appended
//     to a per-stream buffer and written by the connection's I/O strand in order.
//   * A comment (": keep-alive") is written every `heartbeat`, so proxies keep the connection
//     open and a vanished client is noticed by a failing write.
//   * A client disconnect is detected (the server keeps a read pending), and then, as on
//     close() or server stop, every on_close callback runs exactly once and later sends
//     return false.
//   * A client that does not keep up (more than `max_pending_bytes` queued) is disconnected
//     rather than buffering without bound; EventSource clients reconnect with Last-Event-ID.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wonderland::http {

namespace detail {
class Connection;
}

struct EventStreamOptions {
  /// Interval of keep-alive comments.
  std::chrono::milliseconds heartbeat{15'000};
  /// Queued bytes beyond which the client is considered stuck and disconnected.
  std::size_t max_pending_bytes = 1 << 20;
  /// When set, sent first as `retry: <ms>` (the client's reconnection delay).
  std::optional<std::chrono::milliseconds> retry;
};

class EventStream {
 public:
  /// Created by Responder::start_events only.
  struct Passkey {
   private:
    friend class Responder;
    Passkey() = default;
  };
  EventStream(Passkey, std::weak_ptr<detail::Connection> connection, EventStreamOptions options,
              std::string last_event_id);
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;
  ~EventStream();

  /// Queues one event: `event: <event>` (omitted when empty), one `data:` line per line of
  /// `data`, `id: <id>` (omitted when empty). CR and LF in `event` and `id` are removed.
  /// Returns false when the stream is closed or closing (nothing is queued).
  bool send(std::string_view event, std::string_view data, std::string_view id = {});
  /// send() with `data` serialized as compact JSON.
  bool send_json(std::string_view event, const nlohmann::json& data, std::string_view id = {});
  /// Queues a comment line (ignored by clients); returns false when closed.
  bool comment(std::string_view text);
  /// Ends the stream after what is already queued has been written. Idempotent.
  void close();
  /// Whether the stream has ended or is ending; sends then return false.
  bool closed() const;
  /// Registers a callback that runs once when the stream ends (client disconnect, close(),
  /// server stop). Runs right away on the calling thread when the stream has already ended;
  /// otherwise on an I/O thread or the thread whose call ended it. Must not block.
  void on_close(std::function<void()> callback);
  /// The Last-Event-ID header of the request (empty when absent), for resuming.
  const std::string& last_event_id() const { return last_event_id_; }

 private:
  friend class detail::Connection;
  friend class Responder;
  bool enqueue(std::string text);
  /// Requests a flush on the connection's strand; marks the stream ended when impossible.
  void schedule_flush();
  /// Moves the queued bytes into `out`; returns whether close() was requested.
  bool take_pending(std::string& out);
  /// Marks the stream ended and runs the callbacks (at most once).
  void mark_closed();

  std::weak_ptr<detail::Connection> connection_;
  const EventStreamOptions options_;
  const std::string last_event_id_;
  mutable std::mutex mu_;
  std::string pending_;
  bool flush_posted_ = false;
  bool closing_ = false;
  bool closed_ = false;
  std::vector<std::function<void()>> on_close_;
};

}  // namespace wonderland::http
