// A connection in event-stream mode: the response head, writing what the EventStream queues,
// heartbeats, and noticing that the client went away.
#include <boost/asio/write.hpp>

#include "detail.hpp"
#include "http_date.hpp"

namespace wonderland::http::detail {

namespace {

/// The status line and header of an event stream, and the client's reconnection delay when
/// `options` has one.
std::string event_stream_head(unsigned version, const std::string& server_name,
                              const EventStreamOptions& options) {
  std::string head = version >= 11 ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.0 200 OK\r\n";
  head += "Content-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n";
  head += "X-Accel-Buffering: no\r\n";
  for (const auto& [name, value] : kSecurityHeaders) {
    head.append(name).append(": ").append(value).append("\r\n");
  }
  head += "Server: " + server_name + "\r\nDate: ";
  head += http_date_now();
  head += "\r\n\r\n";
  if (options.retry)
    head += "retry: " + std::to_string(options.retry->count()) + "\n\n";
  return head;
}

}  // namespace

void Connection::begin_events(std::uint64_t seq, std::shared_ptr<EventStream> stream) {
  if (state_ != State::kHandling || seq != seq_) {
    stream->mark_closed();
    return;
  }
  timer_.cancel();
  state_ = State::kStreaming;
  events_ = std::move(stream);
  core_->event_streams.fetch_add(1, std::memory_order_relaxed);
  keep_alive_ = false;
  heartbeat_ = events_->options_.heartbeat;

  std::string head = event_stream_head(version_, core_->options.server_name, events_->options_);
  {
    std::lock_guard lock(events_->mu_);
    events_->pending_.insert(0, head);
  }
  log_access(200, " (event stream)");
  read_for_disconnect();
  arm_heartbeat();
  pump_events();
}

void Connection::pump_events() {
  if (state_ != State::kStreaming || event_writing_ || !events_)
    return;
  bool closing = events_->take_pending(event_buffer_);
  if (event_buffer_.empty()) {
    if (closing)
      close();
    return;
  }
  event_writing_ = true;
  stream_.expires_after(core_->options.request_timeout);
  asio::async_write(stream_, asio::buffer(event_buffer_),
                    [self = shared_from_this()](beast::error_code ec, std::size_t) {
                      self->event_writing_ = false;
                      if (self->state_ != State::kStreaming)
                        return;
                      if (ec)
                        return self->close();
                      self->pump_events();
                    });
}

// The client sends nothing on an event stream; a completed read means it has gone.
void Connection::read_for_disconnect() {
  stream_.expires_never();
  stream_.async_read_some(asio::buffer(sink_),
                          [self = shared_from_this()](beast::error_code ec, std::size_t) {
                            if (self->state_ != State::kStreaming)
                              return;
                            if (ec)
                              return self->close();
                            self->read_for_disconnect();
                          });
}

void Connection::arm_heartbeat() {
  if (heartbeat_.count() <= 0)
    return;
  timer_.expires_after(heartbeat_);
  timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec || self->state_ != State::kStreaming || !self->events_)
      return;
    self->events_->comment("keep-alive");
    self->arm_heartbeat();
  });
}

}  // namespace wonderland::http::detail
