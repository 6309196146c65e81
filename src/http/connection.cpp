// A connection's life: reading and checking a request's header and body, server stop, closing,
// and the access log. What follows a complete request is in connection_dispatch.cpp (routing,
// handlers), connection_write.cpp (the response) and connection_events.cpp (event streams).
#include <spdlog/spdlog.h>

#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>

#include "detail.hpp"

namespace wonderland::http::detail {

namespace bhttp = beast::http;

namespace {

constexpr std::string_view k100Continue = "HTTP/1.1 100 Continue\r\n\r\n";

bool is_http_error(const beast::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category();
}

Problem body_too_large(std::size_t limit) {
  return Problem::of(StatusCode::payload_too_large,
                     "the request body exceeds the limit of " + std::to_string(limit) + " bytes");
}

}  // namespace

Connection::Connection(std::shared_ptr<ServerCore> core, Strand strand, tcp::socket socket)
    : core_(std::move(core)),
      ioc_(core_->ioc),
      strand_(std::move(strand)),
      stream_(std::move(socket)),
      timer_(strand_) {
  beast::error_code ec;
  auto ep = stream_.socket().remote_endpoint(ec);
  if (!ec)
    remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
}

Connection::~Connection() {
  core_->forget(this);
}

void Connection::detach() {
  std::lock_guard lock(post_mu_);
  detached_ = true;
}

void Connection::start() {
  if (state_ == State::kClosed)
    return;  // the server began stopping before the first read
  read_header();
}

void Connection::read_header() {
  state_ = State::kReadingHeader;
  method_ = Method::unknown;
  method_name_.clear();
  path_.clear();
  version_ = 11;
  keep_alive_ = false;
  started_ = std::chrono::steady_clock::now();
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(core_->options.header_limit));
  parser_->body_limit(core_->options.body_limit);
  stream_.expires_after(core_->options.idle_timeout);
  bhttp::async_read_header(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
}

void Connection::on_header(beast::error_code ec) {
  if (state_ != State::kReadingHeader)
    return;
  if (ec) {
    if (ec == bhttp::error::body_limit) {  // Content-Length says too much
      return fail(body_too_large(core_->options.body_limit));
    }
    if (ec == bhttp::error::header_limit) {
      return fail(Problem::of(
          StatusCode::request_header_fields_too_large,
          "the request header exceeds " + std::to_string(core_->options.header_limit) + " bytes"));
    }
    if (is_http_error(ec) && ec != bhttp::error::end_of_stream &&
        ec != bhttp::error::partial_message) {
      return fail(Problem::of(StatusCode::bad_request, "malformed request: " + ec.message()));
    }
    return close();
  }
  started_ = std::chrono::steady_clock::now();
  auto& req = parser_->get();
  method_ = req.method();
  method_name_ = sv(req.method_string());
  version_ = req.version();
  keep_alive_ = req.keep_alive();
  std::string_view target = sv(req.target());
  path_ = target.substr(0, target.find('?'));

  if (auto length = parser_->content_length(); length && *length > core_->options.body_limit) {
    keep_alive_ = false;
    return fail(body_too_large(core_->options.body_limit));
  }
  if (parser_->is_done())
    return on_request();
  auto expect = req.find(bhttp::field::expect);
  if (version_ >= 11 && expect != req.end() && iequals(sv(expect->value()), "100-continue")) {
    state_ = State::kReadingBody;
    stream_.expires_after(core_->options.request_timeout);
    boost::asio::async_write(stream_, asio::buffer(k100Continue.data(), k100Continue.size()),
                             [self = shared_from_this()](beast::error_code wec, std::size_t) {
                               if (self->state_ != State::kReadingBody)
                                 return;
                               if (wec)
                                 return self->close();
                               self->read_body();
                             });
    return;
  }
  read_body();
}

void Connection::read_body() {
  state_ = State::kReadingBody;
  stream_.expires_after(core_->options.request_timeout);
  bhttp::async_read(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_body(ec); });
}

void Connection::on_body(beast::error_code ec) {
  if (state_ != State::kReadingBody)
    return;
  if (ec) {
    if (ec == bhttp::error::body_limit) {
      keep_alive_ = false;
      return fail(body_too_large(core_->options.body_limit));
    }
    if (is_http_error(ec) && ec != bhttp::error::end_of_stream &&
        ec != bhttp::error::partial_message) {
      return fail(Problem::of(StatusCode::bad_request, "malformed request body: " + ec.message()));
    }
    return close();
  }
  on_request();
}

void Connection::begin_shutdown() {
  shutting_down_ = true;
  if (state_ == State::kReadingHeader || state_ == State::kStreaming)
    close();
}

void Connection::force_close() {
  close();
}

void Connection::close() {
  if (state_ == State::kClosed)
    return;
  state_ = State::kClosed;
  closed_.store(true, std::memory_order_release);
  timer_.cancel();
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
  stream_.close();
  // The parser, buffers and response stay: cancelled operations still use them before their
  // handlers see the connection closed.
  if (events_) {
    auto stream = std::move(events_);
    events_.reset();
    core_->event_streams.fetch_sub(1, std::memory_order_relaxed);
    stream->mark_closed();
  }
  core_->closed();
}

void Connection::log_access(unsigned status, const char* note) const {
  if (!spdlog::should_log(spdlog::level::debug))
    return;
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_)
                  .count();
  spdlog::debug("http {} {} {} {:.1f}ms{}", method_name_.empty() ? "-" : method_name_,
                path_.empty() ? "-" : path_, status, ms, note);
}

}  // namespace wonderland::http::detail
