#include "wonderland/http/server.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "detail.hpp"

namespace wonderland::http {

using detail::Connection;
using detail::Strand;
using detail::tcp;
namespace asio = boost::asio;
using namespace std::chrono_literals;

class Server::Impl {
 public:
  explicit Impl(std::shared_ptr<detail::ServerCore> c) : core(std::move(c)), ioc(core->ioc) {}

  void do_accept() {
    auto strand = asio::make_strand(*ioc);
    acceptor->async_accept(strand,
                           [this, strand](boost::system::error_code ec, tcp::socket socket) {
                             on_accept(ec, std::move(socket), strand);
                           });
  }

  void on_accept(boost::system::error_code ec, tcp::socket socket, const Strand& strand) {
    if (core->stopping.load())
      return;
    if (ec) {
      if (ec == asio::error::operation_aborted)
        return;
      // Out of file descriptors and the like: back off instead of spinning.
      spdlog::warn("http: accept failed: {}", ec.message());
      retry_timer->expires_after(100ms);
      retry_timer->async_wait([this](boost::system::error_code wec) {
        if (!wec && !core->stopping.load())
          do_accept();
      });
      return;
    }
    boost::system::error_code ignored;
    if (core->full()) {
      shed(socket);
      return do_accept();
    }
    socket.set_option(tcp::no_delay(true), ignored);
    auto c = std::make_shared<Connection>(core, strand, std::move(socket));
    if (core->add(c))
      asio::dispatch(strand, [c] { c->start(); });
    do_accept();
  }

  // Over max_connections: a 503 written without blocking (what the socket's buffer does not take
  // is dropped), whatever the client already sent read and dropped, then closed.
  void shed(tcp::socket& socket) {
    core->shed.fetch_add(1, std::memory_order_relaxed);
    boost::system::error_code ec;
    socket.non_blocking(true, ec);
    static const std::string reply = [] {
      std::string body =
          R"({"type":"about:blank","title":"Service Unavailable","status":503,)"
          R"("detail":"too many connections; try again shortly","code":"unavailable",)"
          R"("retryable":true,"retry_after":1})";
      std::string head =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\n"
          "Cache-Control: no-store\r\nRetry-After: 1\r\nConnection: close\r\n";
      for (const auto& [name, value] : kSecurityHeaders) {
        head.append(name).append(": ").append(value).append("\r\n");
      }
      return head + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    }();
    socket.write_some(asio::buffer(reply), ec);
    std::array<char, 4096> sink;
    for (int i = 0; i < 16; ++i) {
      if (socket.read_some(asio::buffer(sink), ec) == 0 || ec)
        break;
    }
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
  }

  std::shared_ptr<detail::ServerCore> core;
  std::shared_ptr<asio::io_context> ioc;  // outlives the acceptor and timer below
  std::optional<Strand> accept_strand;
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::steady_timer> retry_timer;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;

  std::mutex state_mu;
  enum class State { kNew, kRunning, kStopped } state = State::kNew;

  std::mutex threads_mu;
  std::condition_variable threads_cv;
  unsigned running_threads = 0;
};

Server::Server(Options options) {
  if (options.threads == 0)
    options.threads = 1;
  core_ = std::make_shared<detail::ServerCore>(std::move(options), std::make_shared<Router>());
  core_->ioc = std::make_shared<asio::io_context>(static_cast<int>(core_->options.threads));
  impl_ = std::make_unique<Impl>(core_);
}

Server::~Server() {
  stop();
}

Router& Server::router() {
  return *core_->router;
}

void Server::start() {
  std::lock_guard lock(impl_->state_mu);
  if (impl_->state != Impl::State::kNew)
    throw std::logic_error("http server started twice");
  core_->router->freeze();
  const auto& opts = core_->options;

  boost::system::error_code ec;
  auto address = asio::ip::make_address(opts.address, ec);
  if (ec)
    throw std::system_error(ec, "http: bad listen address '" + opts.address + "'");
  tcp::endpoint endpoint(address, opts.port);
  impl_->accept_strand.emplace(asio::make_strand(*impl_->ioc));
  impl_->acceptor.emplace(*impl_->accept_strand);
  auto& acceptor = *impl_->acceptor;
  auto check = [&](const char* what) {
    if (ec) {
      throw std::system_error(
          ec, std::string("http: ") + what + " " + opts.address + ":" + std::to_string(opts.port));
    }
  };
  acceptor.open(endpoint.protocol(), ec);
  check("open");
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  check("set SO_REUSEADDR on");
  acceptor.bind(endpoint, ec);
  check("bind");
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  check("listen on");
  port_ = acceptor.local_endpoint(ec).port();
  check("query");
  impl_->retry_timer.emplace(*impl_->accept_strand);
  impl_->work.emplace(impl_->ioc->get_executor());

  impl_->running_threads = opts.threads;
  for (unsigned i = 0; i < opts.threads; ++i) {
    impl_->threads.emplace_back([impl = impl_.get()] {
      while (true) {
        try {
          impl->ioc->run();
          break;
        } catch (const std::exception& e) {
          spdlog::error("http: I/O thread caught an exception: {}", e.what());
        } catch (...) {
          spdlog::error("http: I/O thread caught an exception");
        }
      }
      {
        std::lock_guard tl(impl->threads_mu);
        --impl->running_threads;
      }
      impl->threads_cv.notify_all();
    });
  }
  asio::post(*impl_->accept_strand, [impl = impl_.get()] { impl->do_accept(); });
  impl_->state = Impl::State::kRunning;
  spdlog::info("http: listening on {}", url());
}

void Server::stop() {
  std::lock_guard lock(impl_->state_mu);
  if (impl_->state != Impl::State::kRunning) {
    impl_->state = Impl::State::kStopped;
    return;
  }
  impl_->state = Impl::State::kStopped;
  auto& core = *core_;
  {
    std::lock_guard cl(core.mu);
    core.stopping.store(true);
  }
  asio::post(*impl_->accept_strand, [impl = impl_.get()] {
    boost::system::error_code ec;
    impl->acceptor->close(ec);
    impl->retry_timer->cancel();
  });
  for (const auto& c : core.snapshot()) {
    c->post([c] { c->begin_shutdown(); });
  }
  auto start = std::chrono::steady_clock::now();
  if (!core.wait_closed(start + core.options.stop_timeout)) {
    spdlog::warn("http: requests still in flight after {} ms; closing their connections",
                 core.options.stop_timeout.count());
    for (const auto& c : core.snapshot()) {
      c->post([c] { c->force_close(); });
    }
    core.wait_closed(std::chrono::steady_clock::now() + 1s);
  }
  // From here on, Responders and event streams held elsewhere post nothing.
  for (const auto& c : core.snapshot())
    c->detach();
  impl_->work.reset();
  {
    std::unique_lock tl(impl_->threads_mu);
    if (!impl_->threads_cv.wait_for(tl, 2s, [this] { return impl_->running_threads == 0; })) {
      spdlog::warn("http: I/O threads still busy after stop; stopping the I/O context");
      impl_->ioc->stop();
    }
  }
  for (auto& t : impl_->threads)
    t.join();
  impl_->threads.clear();
  spdlog::info("http: stopped listening on {}", url());
}

std::string Server::url() const {
  const auto& a = core_->options.address;
  bool v6 = a.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + a + "]" : a) + ":" + std::to_string(port_);
}

ServerStats Server::stats() const {
  ServerStats s;
  {
    std::lock_guard lock(core_->mu);
    s.open_connections = core_->open;
  }
  s.event_streams = core_->event_streams.load(std::memory_order_relaxed);
  s.requests = core_->requests.load(std::memory_order_relaxed);
  s.shed_connections = core_->shed.load(std::memory_order_relaxed);
  return s;
}

}  // namespace wonderland::http
