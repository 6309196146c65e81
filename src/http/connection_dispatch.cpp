// A connection handling the request it has read: the request target, routing, and the call of
// a sync or async handler (its failures, its response timeout, a dropped Exchange).
#include <spdlog/spdlog.h>

#include "detail.hpp"
#include "wonderland/http/responder.hpp"

namespace wonderland::http::detail {

namespace {

/// Turns an absolute-form path ("http://host/path") into its origin form ("/path"); false for
/// a target that is neither ("*" and the like).
bool to_origin_form(std::string& path) {
  if (!path.empty() && path.front() == '/')
    return true;
  auto scheme = path.find("://");
  if (scheme == std::string::npos || path.find('/', scheme + 3) == std::string::npos)
    return false;
  path.erase(0, path.find('/', scheme + 3));
  return true;
}

}  // namespace

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

void Connection::on_request() {
  core_->requests.fetch_add(1, std::memory_order_relaxed);
  RawRequest message = parser_->release();
  parser_.reset();
  std::string_view target = sv(message.target());

  if (!to_origin_form(path_)) {
    Problem p = Problem::of(StatusCode::bad_request, "unsupported request target");
    return write(Response::problem(p));
  }
  QueryParams query;
  if (auto q = target.find('?'); q != std::string_view::npos) {
    auto parsed = parse_query(target.substr(q + 1));
    if (!parsed)
      return write(Response::error(parsed.error(), path_));
    query = std::move(*parsed);
  }

  auto match = core_->router->match(method_, path_);
  if (match.kind != Router::Match::Kind::kFound)
    return write(unrouted_response(match));
  Request request(std::move(message), path_, std::move(query), std::move(match.params), remote_,
                  started_);
  if (std::holds_alternative<SyncHandler>(match.route->handler)) {
    dispatch_sync(*match.route, request);
  } else {
    dispatch_async(*match.route, std::move(request));
  }
}

Response Connection::unrouted_response(const Router::Match& match) const {
  switch (match.kind) {
    case Router::Match::Kind::kBadPath: {
      Problem p =
          Problem::of(StatusCode::bad_request, "malformed percent-encoding in the request path");
      p.instance = path_;
      return Response::problem(p);
    }
    case Router::Match::Kind::kMethodNotAllowed: {
      if (method_ == Method::options) {
        Response r = Response::no_content();
        r.header("Allow", match.allow);
        return r;
      }
      Problem p = Problem::of(StatusCode::method_not_allowed,
                              "method " + method_name_ + " is not allowed for " + path_ +
                                  " (allowed: " + match.allow + ")");
      p.instance = path_;
      Response r = Response::problem(p);
      r.header("Allow", match.allow);
      return r;
    }
    case Router::Match::Kind::kNotFound:
    case Router::Match::Kind::kFound:
      break;
  }
  Problem p = Problem::of(StatusCode::not_found, "no resource at " + path_);
  p.instance = path_;
  return Response::problem(p);
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

}  // namespace wonderland::http::detail
