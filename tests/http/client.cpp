#include "client.hpp"

#include <stdexcept>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace wonderland::http::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

std::string Reply::header(std::string_view name) const {
  auto it = headers.find(beast::string_view(name.data(), name.size()));
  if (it == headers.end()) return {};
  return std::string(it->value());
}

template <class Start>
void Client::run(Start start, std::chrono::milliseconds timeout, const char* what) {
  bool done = false;
  beast::error_code result;
  start([&done, &result](beast::error_code ec, auto...) {
    done = true;
    result = ec;
  });
  ioc_.restart();
  ioc_.run_for(timeout);
  if (!done) {
    beast::error_code ignored;
    socket_.cancel(ignored);
    ioc_.restart();
    ioc_.run();
    throw std::runtime_error(std::string("test client: timeout in ") + what);
  }
  if (result) throw beast::system_error(result, what);
}

Client::Client(std::uint16_t port, std::chrono::milliseconds timeout) : socket_(ioc_) {
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
  run([&](auto handler) { socket_.async_connect(ep, handler); },
      timeout, "connect");
}

Reply Client::request(bhttp::verb method, std::string_view target, std::string body,
                      const Headers& headers, std::chrono::milliseconds timeout) {
  bhttp::request<bhttp::string_body> req(method, beast::string_view(target.data(), target.size()), 11);
  req.set(bhttp::field::host, "127.0.0.1");
  for (const auto& [name, value] : headers) req.set(name, value);
  if (!body.empty() && req.find(bhttp::field::content_type) == req.end()) {
    req.set(bhttp::field::content_type, "application/json");
  }
  req.body() = std::move(body);
  req.prepare_payload();
  run([&](auto handler) { bhttp::async_write(socket_, req, handler); }, timeout, "write");
  return read_reply(method == bhttp::verb::head, timeout);
}

void Client::send_raw(std::string_view bytes, std::chrono::milliseconds timeout) {
  run([&](auto handler) { asio::async_write(socket_, asio::buffer(bytes.data(), bytes.size()), handler); },
      timeout, "raw write");
}

Reply Client::read_reply(bool head, std::chrono::milliseconds timeout) {
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 << 20);
  if (head) parser.skip(true);
  run([&](auto handler) { bhttp::async_read(socket_, buffer_, parser, handler); }, timeout, "read");
  auto res = parser.release();
  Reply r;
  r.status = res.result_int();
  r.keep_alive = res.keep_alive();
  r.body = std::move(res.body());
  r.headers = std::move(res.base());
  return r;
}

std::string Client::read_until(std::string_view needle, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    std::string_view have(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    if (auto pos = have.find(needle); pos != std::string_view::npos) {
      std::string out(have.substr(0, pos + needle.size()));
      buffer_.consume(pos + needle.size());
      return out;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) throw std::runtime_error("test client: timeout in read until");
    std::size_t n = 0;
    run([&](auto handler) {
          socket_.async_read_some(buffer_.prepare(4096),
                                  [&n, handler](beast::error_code ec, std::size_t bytes) mutable {
                                    n = bytes;
                                    handler(ec);
                                  });
        },
        left, "read until");
    buffer_.commit(n);
  }
}

bool Client::wait_closed(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char sink[4096];
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    try {
      run([&](auto handler) { socket_.async_read_some(asio::buffer(sink), handler); }, left, "wait closed");
    } catch (const beast::system_error&) {
      close();
      return true;  // EOF or reset
    } catch (const std::runtime_error&) {
      return false;  // timeout
    }
  }
}

void Client::close() {
  beast::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
}

}  // namespace wonderland::http::testing
