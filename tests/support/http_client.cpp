#include "wonderland/testing/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cctype>
#include <stdexcept>

namespace wonderland::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::map<std::string, std::string> auth(const std::string& token,
                                        std::map<std::string, std::string> headers = {}) {
  if (!token.empty())
    headers["Authorization"] = "Bearer " + token;
  return headers;
}

}  // namespace

nlohmann::json HttpResponse::json() const {
  auto j = nlohmann::json::parse(body, nullptr, false);
  return j.is_discarded() ? nlohmann::json() : j;
}

std::string HttpResponse::header(std::string_view name) const {
  auto it = headers.find(lower(name));
  return it == headers.end() ? std::string() : it->second;
}

struct HttpClient::Impl {
  asio::io_context io;
  tcp::socket socket{io};
  beast::flat_buffer buffer;
  std::string host;
  int port = 0;
  std::chrono::milliseconds timeout{};
  bool connected = false;
  /// The server said it closes the connection: the next request opens a new one.
  bool closing = false;

  /// Runs one asynchronous operation for at most `limit`; throws on expiry or error.
  template <class Start>
  void run(Start start, std::chrono::milliseconds limit, const char* what) {
    bool done = false;
    beast::error_code result;
    start([&done, &result](beast::error_code ec, auto&&...) {
      done = true;
      result = ec;
    });
    io.restart();
    io.run_for(limit);
    if (!done) {
      beast::error_code ignored;
      socket.cancel(ignored);
      io.restart();
      io.run();
      throw std::runtime_error(std::string("test client: timeout in ") + what);
    }
    if (result)
      throw beast::system_error(result, what);
  }

  void connect() {
    close();
    tcp::resolver resolver(io);
    auto endpoints = resolver.resolve(host, std::to_string(port));
    run([&](auto handler) { asio::async_connect(socket, endpoints, handler); }, timeout, "connect");
    connected = true;
  }

  void close() {
    beast::error_code ec;
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
    buffer.clear();
    connected = false;
    closing = false;
  }

  void send(std::string_view bytes) {
    run(
        [&](auto handler) {
          asio::async_write(socket, asio::buffer(bytes.data(), bytes.size()), handler);
        },
        timeout, "write");
  }

  HttpResponse read_reply(bool head) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    if (head)
      parser.skip(true);
    run([&](auto handler) { http::async_read(socket, buffer, parser, handler); }, timeout, "read");
    auto& res = parser.get();
    HttpResponse out;
    out.status = static_cast<int>(res.result_int());
    out.keep_alive = res.keep_alive();
    for (const auto& field : res)
      out.headers[lower(std::string(field.name_string()))] = std::string(field.value());
    out.body = std::move(res.body());
    return out;
  }

  HttpResponse exchange(const std::string& method, const std::string& target,
                        const std::string& body,
                        const std::map<std::string, std::string>& headers) {
    if (!connected || closing)
      connect();
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, host);
    req.keep_alive(true);
    for (const auto& [k, v] : headers)
      req.set(k, v);
    if (!body.empty()) {
      if (req.find(http::field::content_type) == req.end()) {
        req.set(http::field::content_type, "application/json");
      }
      req.body() = body;
    }
    req.prepare_payload();
    run([&](auto handler) { http::async_write(socket, req, handler); }, timeout, "write");
    HttpResponse out = read_reply(method == "HEAD");
    if (!out.keep_alive)
      closing = true;
    return out;
  }
};

HttpClient::HttpClient(int port, std::string host, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
  impl_->timeout = timeout;
}
HttpClient::~HttpClient() = default;
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;

void HttpClient::connect() {
  impl_->connect();
}

HttpResponse HttpClient::request(const std::string& method, const std::string& target,
                                 const std::string& body,
                                 const std::map<std::string, std::string>& headers) {
  try {
    return impl_->exchange(method, target, body, headers);
  } catch (const std::exception&) {
    // The server may have closed an idle keep-alive connection: retry once on a new one.
    impl_->close();
    return impl_->exchange(method, target, body, headers);
  }
}

HttpResponse HttpClient::get(const std::string& target, const std::string& token) {
  return request("GET", target, {}, auth(token));
}
HttpResponse HttpClient::post_json(const std::string& target, const nlohmann::json& body,
                                   const std::string& token,
                                   const std::map<std::string, std::string>& headers) {
  return request("POST", target, body.dump(), auth(token, headers));
}
HttpResponse HttpClient::put_json(const std::string& target, const nlohmann::json& body,
                                  const std::string& token) {
  return request("PUT", target, body.dump(), auth(token));
}
HttpResponse HttpClient::del(const std::string& target, const std::string& token) {
  return request("DELETE", target, {}, auth(token));
}

void HttpClient::send_raw(std::string_view bytes) {
  if (!impl_->connected)
    impl_->connect();
  impl_->send(bytes);
}

HttpResponse HttpClient::read_reply(bool head) {
  return impl_->read_reply(head);
}

std::string HttpClient::read_until(std::string_view needle, std::chrono::milliseconds timeout) {
  if (timeout.count() <= 0)
    timeout = impl_->timeout;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto& buffer = impl_->buffer;
  while (true) {
    std::string_view have(static_cast<const char*>(buffer.data().data()), buffer.size());
    if (auto pos = have.find(needle); pos != std::string_view::npos) {
      std::string out(have.substr(0, pos + needle.size()));
      buffer.consume(pos + needle.size());
      return out;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      throw std::runtime_error("test client: timeout in read until");
    std::size_t n = 0;
    impl_->run(
        [&](auto handler) {
          impl_->socket.async_read_some(
              buffer.prepare(4096), [&n, handler](beast::error_code ec, std::size_t bytes) mutable {
                n = bytes;
                handler(ec);
              });
        },
        left, "read until");
    buffer.commit(n);
  }
}

bool HttpClient::wait_closed(std::chrono::milliseconds timeout) {
  if (timeout.count() <= 0)
    timeout = impl_->timeout;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char sink[4096];
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return false;
    try {
      impl_->run([&](auto handler) { impl_->socket.async_read_some(asio::buffer(sink), handler); },
                 left, "wait closed");
    } catch (const beast::system_error&) {
      impl_->close();
      return true;  // EOF or reset
    } catch (const std::runtime_error&) {
      return false;  // timeout
    }
  }
}

void HttpClient::close() {
  impl_->close();
}

std::string describe(const HttpResponse& r, std::size_t max_body) {
  std::string body = r.body.size() > max_body ? r.body.substr(0, max_body) + "..." : r.body;
  return "HTTP " + std::to_string(r.status) + " " + body;
}

}  // namespace wonderland::testing
