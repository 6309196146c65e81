#include <spdlog/spdlog.h>

#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include "detail.hpp"
#include "http_date.hpp"
#include "wonderland/http/responder.hpp"

namespace wonderland::http::detail {

namespace bhttp = beast::http;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view k100Continue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr auto kLingerTime = 1s;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i]))
      return false;
  }
  return true;
}

bool is_http_error(const beast::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category();
}

std::string_view sv(beast::string_view s) {
  return {s.data(), s.size()};
}

Problem body_too_large(std::size_t limit) {
  return Problem::of(StatusCode::payload_too_large,
                     "the request body exceeds the limit of " + std::to_string(limit) + " bytes");
}

}  // namespace

// ---- ServerCore -------------------------------------------------------------------------

bool ServerCore::add(const std::shared_ptr<Connection>& c) {
  std::lock_guard lock(mu);
  if (stopping.load())
    return false;
  live.emplace(c.get(), c);
  ++open;
  return true;
}

bool ServerCore::full() {
  if (options.max_connections == 0)
    return false;
  std::lock_guard lock(mu);
  return open >= options.max_connections;
}

void ServerCore::closed() {
  std::lock_guard lock(mu);
  if (--open == 0)
    cv.notify_all();
}

void ServerCore::forget(Connection* c) {
  std::lock_guard lock(mu);
  live.erase(c);
}

std::vector<std::shared_ptr<Connection>> ServerCore::snapshot() {
  std::vector<std::shared_ptr<Connection>> out;
  std::lock_guard lock(mu);
  out.reserve(live.size());
  for (auto& [ptr, weak] : live) {
    if (auto c = weak.lock())
      out.push_back(std::move(c));
  }
  return out;
}

bool ServerCore::wait_closed(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu);
  return cv.wait_until(lock, deadline, [this] { return open == 0; });
}

// ---- Exchange ---------------------------------------------------------------------------

Exchange::~Exchange() {
  if (done.load(std::memory_order_acquire))
    return;
  spdlog::warn("http: handler for {} {} finished without responding", request.method_string(),
               request.path());
  Problem p = Problem::of(StatusCode::internal_server_error,
                          "the request was dropped without a response", codes::kInternal);
  p.instance = request.path();
  auto c = connection;
  c->post([c, s = seq, r = Response::problem(p)]() mutable { c->deliver(s, std::move(r)); });
}

// ---- Connection -------------------------------------------------------------------------

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

void Connection::on_request() {
  core_->requests.fetch_add(1, std::memory_order_relaxed);
  RawRequest message = parser_->release();
  parser_.reset();
  std::string_view target = sv(message.target());

  if (path_.empty() || path_.front() != '/') {
    // Absolute form ("http://host/path?q") is accepted; "*" and the like are not.
    auto scheme = path_.find("://");
    if (scheme != std::string::npos && path_.find('/', scheme + 3) != std::string::npos) {
      path_.erase(0, path_.find('/', scheme + 3));
    } else {
      Problem p = Problem::of(StatusCode::bad_request, "unsupported request target");
      return write(Response::problem(p));
    }
  }
  QueryParams query;
  if (auto q = target.find('?'); q != std::string_view::npos) {
    auto parsed = parse_query(target.substr(q + 1));
    if (!parsed)
      return write(Response::error(parsed.error(), path_));
    query = std::move(*parsed);
  }

  auto match = core_->router->match(method_, path_);
  switch (match.kind) {
    case Router::Match::Kind::kBadPath: {
      Problem p =
          Problem::of(StatusCode::bad_request, "malformed percent-encoding in the request path");
      p.instance = path_;
      return write(Response::problem(p));
    }
    case Router::Match::Kind::kNotFound: {
      Problem p = Problem::of(StatusCode::not_found, "no resource at " + path_);
      p.instance = path_;
      return write(Response::problem(p));
    }
    case Router::Match::Kind::kMethodNotAllowed: {
      if (method_ == Method::options) {
        Response r = Response::no_content();
        r.header("Allow", match.allow);
        return write(std::move(r));
      }
      Problem p = Problem::of(StatusCode::method_not_allowed,
                              "method " + method_name_ + " is not allowed for " + path_ +
                                  " (allowed: " + match.allow + ")");
      p.instance = path_;
      Response r = Response::problem(p);
      r.header("Allow", match.allow);
      return write(std::move(r));
    }
    case Router::Match::Kind::kFound:
      break;
  }
  Request request(std::move(message), path_, std::move(query), std::move(match.params), remote_,
                  started_);
  if (std::holds_alternative<SyncHandler>(match.route->handler)) {
    dispatch_sync(*match.route, request);
  } else {
    dispatch_async(*match.route, std::move(request));
  }
}

void Connection::dispatch_sync(const Router::Route& route, Request& request) {
  state_ = State::kHandling;
  Response response;
  try {
    response = std::get<SyncHandler>(route.handler)(request);
  } catch (...) {
    response = handler_failure(std::current_exception(), request.path());
  }
  write(std::move(response));
}

void Connection::dispatch_async(const Router::Route& route, Request request) {
  state_ = State::kHandling;
  auto exchange = std::make_shared<Exchange>(shared_from_this(), ++seq_, std::move(request));
  dispatching_ = true;
  try {
    std::get<AsyncHandler>(route.handler)(exchange->request, Responder(exchange));
  } catch (...) {
    if (!exchange->done.exchange(true, std::memory_order_acq_rel)) {
      inline_response_.emplace(handler_failure(std::current_exception(), exchange->request.path()));
    } else {
      spdlog::warn("http: handler for {} {} threw after completing", method_name_, path_);
    }
  }
  dispatching_ = false;
  if (inline_response_) {
    Response r = std::move(*inline_response_);
    inline_response_.reset();
    return write(std::move(r));
  }
  if (state_ == State::kHandling && !exchange->done.load(std::memory_order_acquire)) {
    arm_response_timer(exchange);
  }
}

void Connection::arm_response_timer(std::weak_ptr<Exchange> exchange) {
  timer_.expires_after(core_->options.response_timeout);
  timer_.async_wait([self = shared_from_this(), exchange = std::move(exchange),
                     seq = seq_](beast::error_code ec) {
    if (ec || self->state_ != State::kHandling || self->seq_ != seq)
      return;
    auto ex = exchange.lock();
    // A destroyed exchange has posted its own 500.
    if (!ex || ex->done.exchange(true, std::memory_order_acq_rel))
      return;
    Problem p =
        Problem::of(StatusCode::gateway_timeout,
                    "the request was not answered within " +
                        std::to_string(self->core_->options.response_timeout.count()) + " ms",
                    codes::kDeadlineExceeded);
    p.instance = self->path_;
    self->write(Response::problem(p));
  });
}

Response Connection::handler_failure(std::exception_ptr error, const std::string& path) {
  try {
    std::rethrow_exception(std::move(error));
  } catch (const ErrorException& e) {
    return Response::error(e.error(), path);
  } catch (const std::exception& e) {
    spdlog::error("http: handler for {} {} threw: {}", method_name_, path_, e.what());
  } catch (...) {
    spdlog::error("http: handler for {} {} threw a non-standard exception", method_name_, path_);
  }
  Problem p = Problem::of(StatusCode::internal_server_error, "internal error", codes::kInternal);
  p.instance = path;
  return Response::problem(p);
}

void Connection::deliver(std::uint64_t seq, Response response) {
  if (state_ != State::kHandling || seq != seq_)
    return;
  timer_.cancel();
  write(std::move(response));
}

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

// ---- event streams ----------------------------------------------------------------------

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

  std::string head = version_ >= 11 ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.0 200 OK\r\n";
  head += "Content-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n";
  head += "X-Accel-Buffering: no\r\n";
  for (const auto& [name, value] : kSecurityHeaders) {
    head.append(name).append(": ").append(value).append("\r\n");
  }
  head += "Server: " + core_->options.server_name + "\r\nDate: ";
  head += http_date_now();
  head += "\r\n\r\n";
  if (events_->options_.retry)
    head += "retry: " + std::to_string(events_->options_.retry->count()) + "\n\n";
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

void Connection::log_access(unsigned status, const char* note) const {
  if (!spdlog::should_log(spdlog::level::debug))
    return;
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_)
                  .count();
  spdlog::debug("http {} {} {} {:.1f}ms{}", method_name_.empty() ? "-" : method_name_,
                path_.empty() ? "-" : path_, status, ms, note);
}

}  // namespace wonderland::http::detail
