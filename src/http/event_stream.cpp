#include "wonderland/http/event_stream.hpp"

#include <spdlog/spdlog.h>

#include "detail.hpp"

namespace wonderland::http {

namespace {

// Appends `text` without CR and LF, which would end the field early.
void append_field(std::string& out, std::string_view text) {
  for (char c : text) {
    if (c != '\r' && c != '\n')
      out.push_back(c);
  }
}

}  // namespace

EventStream::EventStream(Passkey, std::weak_ptr<detail::Connection> connection,
                         EventStreamOptions options, std::string last_event_id)
    : connection_(std::move(connection)),
      options_(options),
      last_event_id_(std::move(last_event_id)) {}

EventStream::~EventStream() = default;

bool EventStream::send(std::string_view event, std::string_view data, std::string_view id) {
  std::string text;
  text.reserve(event.size() + data.size() + id.size() + 32);
  if (!event.empty()) {
    text += "event: ";
    append_field(text, event);
    text += '\n';
  }
  // One data line per line of `data` (CRLF, LF and CR all end a line).
  std::size_t start = 0;
  while (true) {
    std::size_t end = data.find_first_of("\r\n", start);
    text += "data: ";
    text +=
        data.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    text += '\n';
    if (end == std::string_view::npos)
      break;
    if (data[end] == '\r' && end + 1 < data.size() && data[end + 1] == '\n')
      ++end;
    start = end + 1;
    if (start == data.size())
      break;
  }
  if (!id.empty()) {
    text += "id: ";
    append_field(text, id);
    text += '\n';
  }
  text += '\n';
  return enqueue(std::move(text));
}

bool EventStream::send_json(std::string_view event, const nlohmann::json& data,
                            std::string_view id) {
  return send(event, data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), id);
}

bool EventStream::comment(std::string_view text) {
  std::string line = ": ";
  append_field(line, text);
  line += "\n\n";
  return enqueue(std::move(line));
}

bool EventStream::enqueue(std::string text) {
  bool post = false;
  bool accepted = true;
  {
    std::lock_guard lock(mu_);
    if (closing_ || closed_)
      return false;
    if (pending_.size() + text.size() > options_.max_pending_bytes) {
      // The client does not keep up: drop it rather than buffer without bound.
      closing_ = true;
      pending_.clear();
      accepted = false;
    } else if (pending_.empty()) {
      pending_ = std::move(text);
    } else {
      pending_ += text;
    }
    if (!flush_posted_) {
      flush_posted_ = true;
      post = true;
    }
  }
  if (!accepted)
    spdlog::warn("http: event stream client too slow; disconnecting it");
  if (post)
    schedule_flush();
  return accepted;
}

void EventStream::schedule_flush() {
  auto c = connection_.lock();
  if (!c || !c->post([c] { c->pump_events(); }))
    mark_closed();
}

bool EventStream::take_pending(std::string& out) {
  std::lock_guard lock(mu_);
  out.clear();
  out.swap(pending_);
  flush_posted_ = false;
  return closing_;
}

void EventStream::close() {
  bool post = false;
  {
    std::lock_guard lock(mu_);
    if (closing_ || closed_)
      return;
    closing_ = true;
    if (!flush_posted_) {
      flush_posted_ = true;
      post = true;
    }
  }
  if (post)
    schedule_flush();
}

bool EventStream::closed() const {
  std::lock_guard lock(mu_);
  return closing_ || closed_;
}

void EventStream::on_close(std::function<void()> callback) {
  if (!callback)
    return;
  {
    std::lock_guard lock(mu_);
    if (!closed_) {
      on_close_.push_back(std::move(callback));
      return;
    }
  }
  callback();
}

void EventStream::mark_closed() {
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard lock(mu_);
    if (closed_)
      return;
    closed_ = true;
    closing_ = true;
    pending_.clear();
    callbacks.swap(on_close_);
  }
  for (auto& cb : callbacks) {
    try {
      cb();
    } catch (const std::exception& e) {
      spdlog::warn("http: event stream on_close callback threw: {}", e.what());
    } catch (...) {
      spdlog::warn("http: event stream on_close callback threw");
    }
  }
}

}  // namespace wonderland::http
