// Internals of the server: the state shared by its connections (server_core.cpp), a connection
// (connection*.cpp), one async request in flight. Not part of the public API.
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "text.hpp"
#include "wonderland/http/event_stream.hpp"
#include "wonderland/http/request.hpp"
#include "wonderland/http/response.hpp"
#include "wonderland/http/router.hpp"
#include "wonderland/http/server.hpp"

namespace wonderland::http {
class Responder;
}

namespace wonderland::http::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using Strand = asio::strand<asio::io_context::executor_type>;

class Connection;

/// What the server and its connections share. Connections keep it alive.
struct ServerCore {
  ServerCore(ServerOptions opts, std::shared_ptr<Router> r)
      : options(std::move(opts)), router(std::move(r)) {}

  const ServerOptions options;
  const std::shared_ptr<Router> router;
  std::shared_ptr<asio::io_context> ioc;
  std::atomic<bool> stopping{false};

  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::size_t> event_streams{0};
  std::atomic<std::uint64_t> shed{0};

  std::mutex mu;
  std::condition_variable cv;
  /// Every Connection object alive (also closed ones, which Responders may still hold).
  std::unordered_map<Connection*, std::weak_ptr<Connection>> live;
  std::size_t open = 0;

  /// Registers a new connection; false when the server is stopping.
  bool add(const std::shared_ptr<Connection>& c);
  /// Whether `max_connections` are open.
  bool full();
  /// A connection's socket closed.
  void closed();
  /// A connection object is being destroyed.
  void forget(Connection* c);
  /// The connections alive now (collected under the lock, returned outside it).
  std::vector<std::shared_ptr<Connection>> snapshot();
  /// Waits until no connection is open or `deadline`; returns whether none is.
  bool wait_closed(std::chrono::steady_clock::time_point deadline);
};

/// One request being handled asynchronously; shared by the copies of its Responder.
struct Exchange {
  Exchange(std::shared_ptr<Connection> c, std::uint64_t s, Request r)
      : connection(std::move(c)), seq(s), request(std::move(r)) {}
  ~Exchange();
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  const std::shared_ptr<Connection> connection;
  const std::uint64_t seq;
  const Request request;
  /// Set by the first completion (respond, start_events, timeout).
  std::atomic<bool> done{false};
};

/// One TCP connection. Everything but post/detach/closed runs on its strand.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<ServerCore> core, Strand strand, tcp::socket socket);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // ---- any thread
  /// Runs `f` on the strand; false (and `f` dropped) once the server has detached this
  /// connection at stop.
  template <class F>
  bool post(F&& f) {
    std::lock_guard lock(post_mu_);
    if (detached_)
      return false;
    asio::post(strand_, std::forward<F>(f));
    return true;
  }
  /// Forbids further posts (the server is going away).
  void detach();
  bool is_closed() const { return closed_.load(std::memory_order_acquire); }
  /// Whether the caller runs on this connection's strand inside an async handler call.
  bool in_dispatch() const { return strand_.running_in_this_thread() && dispatching_; }

  // ---- strand
  void start();
  /// Server stop: closes an idle connection or event stream; a request in flight completes
  /// and then the connection closes.
  void begin_shutdown();
  void force_close();
  /// The response of async request `seq` (ignored when it is no longer current).
  void deliver(std::uint64_t seq, Response response);
  /// Keeps a response produced inside the async handler call, written when it returns.
  void deliver_inline(Response response) { inline_response_.emplace(std::move(response)); }
  /// Turns async request `seq` into an event stream.
  void begin_events(std::uint64_t seq, std::shared_ptr<EventStream> stream);
  /// Writes what the event stream has queued.
  void pump_events();

 private:
  enum class State {
    kReadingHeader,
    kReadingBody,
    kHandling,
    kWriting,
    kStreaming,
    kLingering,
    kClosed
  };

  void read_header();
  void on_header(beast::error_code ec);
  void read_body();
  void on_body(beast::error_code ec);
  void on_request();
  /// The answer to a request that matched no route: 400, 404, 405, or the Allow of OPTIONS.
  Response unrouted_response(const Router::Match& match) const;
  void dispatch_sync(const Router::Route& route, Request& request);
  void dispatch_async(const Router::Route& route, Request request);
  void arm_response_timer(std::weak_ptr<Exchange> exchange);
  Response handler_failure(std::exception_ptr error, const std::string& path);
  /// Writes a problem for a request that could not be read, then closes.
  void fail(const Problem& problem);
  void write(Response response);
  void on_write(beast::error_code ec);
  void linger(bool first);
  void read_for_disconnect();
  void arm_heartbeat();
  void close();
  void log_access(unsigned status, const char* note) const;

  const std::shared_ptr<ServerCore> core_;
  const std::shared_ptr<asio::io_context> ioc_;  // outlives the socket, timer and strand
  Strand strand_;
  beast::tcp_stream stream_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<beast::http::request_parser<beast::http::string_body>> parser_;
  RawResponse response_;
  std::string remote_;

  State state_ = State::kReadingHeader;
  std::uint64_t seq_ = 0;
  bool shutting_down_ = false;
  bool dispatching_ = false;
  std::optional<Response> inline_response_;

  // The request being answered (for the response and the access log).
  Method method_ = Method::unknown;
  std::string method_name_;
  std::string path_;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  std::chrono::steady_clock::time_point started_;

  // Event stream mode.
  std::shared_ptr<EventStream> events_;
  std::chrono::milliseconds heartbeat_{0};
  std::string event_buffer_;
  bool event_writing_ = false;
  std::array<char, 512> sink_{};

  std::mutex post_mu_;
  bool detached_ = false;
  std::atomic<bool> closed_{false};
};

}  // namespace wonderland::http::detail
