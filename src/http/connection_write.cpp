// A connection writing its response: the headers every response carries, the body rules of
// HEAD, 1xx, 204 and 304, keep-alive, and lingering after the last response.
#include <boost/beast/http/write.hpp>

#include "detail.hpp"
#include "http_date.hpp"

namespace wonderland::http::detail {

namespace bhttp = beast::http;
using namespace std::chrono_literals;

namespace {

constexpr auto kLingerTime = 1s;

}  // namespace

void Connection::fail(const Problem& problem) {
  keep_alive_ = false;
  Problem p = problem;
  if (p.instance.empty())
    p.instance = path_;
  write(Response::problem(p));
}

void Connection::write(Response response) {
  state_ = State::kWriting;
  response_ = std::move(response.raw());
  keep_alive_ = keep_alive_ && !shutting_down_ && !core_->stopping.load(std::memory_order_relaxed);
  response_.version(version_);
  response_.keep_alive(keep_alive_);
  response_.set(bhttp::field::server, core_->options.server_name);
  auto date = http_date_now();
  response_.set(bhttp::field::date, beast::string_view(date.data(), date.size()));
  for (const auto& [name, value] : kSecurityHeaders) {
    response_.set(beast::string_view(name.data(), name.size()),
                  beast::string_view(value.data(), value.size()));
  }
  unsigned status = response_.result_int();
  if (status < 200 || status == 204 || status == 304) {
    response_.body().clear();
    response_.erase(bhttp::field::content_length);
  } else {
    response_.content_length(response_.body().size());
    if (method_ == Method::head)
      response_.body().clear();
  }
  stream_.expires_after(core_->options.request_timeout);
  bhttp::async_write(
      stream_, response_,
      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_write(ec); });
}

void Connection::on_write(beast::error_code ec) {
  if (state_ != State::kWriting)
    return;
  log_access(response_.result_int(), "");
  response_ = {};
  if (ec)
    return close();
  if (!keep_alive_ || shutting_down_)
    return linger(true);
  read_header();
}

// After the last response: half-close and drain what the client still sends (the rest of an
// oversized body, say), so that closing does not reset the connection before the client has
// read the response.
void Connection::linger(bool first) {
  if (first) {
    state_ = State::kLingering;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec)
      return close();
    stream_.expires_after(kLingerTime);
  }
  stream_.async_read_some(asio::buffer(sink_),
                          [self = shared_from_this()](beast::error_code ec, std::size_t) {
                            if (self->state_ != State::kLingering)
                              return;
                            if (ec)
                              return self->close();
                            self->linger(false);
                          });
}

}  // namespace wonderland::http::detail
