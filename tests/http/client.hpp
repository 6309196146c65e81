// A small blocking HTTP client for the server tests: real sockets on 127.0.0.1, every
// operation bounded by a timeout (it throws on expiry instead of hanging).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/verb.hpp>
#include <nlohmann/json.hpp>

namespace wonderland::http::testing {

using Headers = std::vector<std::pair<std::string, std::string>>;
inline constexpr std::chrono::milliseconds kTimeout{5000};

struct Reply {
  unsigned status = 0;
  boost::beast::http::fields headers;
  std::string body;
  bool keep_alive = false;

  /// A header's value, or "" when absent.
  std::string header(std::string_view name) const;
  nlohmann::json json() const { return nlohmann::json::parse(body); }
};

class Client {
 public:
  explicit Client(std::uint16_t port, std::chrono::milliseconds timeout = kTimeout);
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// Sends one request (HTTP/1.1, keep-alive) and reads its response.
  Reply request(boost::beast::http::verb method, std::string_view target, std::string body = {},
                const Headers& headers = {}, std::chrono::milliseconds timeout = kTimeout);
  Reply get(std::string_view target, const Headers& headers = {}) {
    return request(boost::beast::http::verb::get, target, {}, headers);
  }
  /// Sends bytes as they are.
  void send_raw(std::string_view bytes, std::chrono::milliseconds timeout = kTimeout);
  /// Reads one response; `head` for responses to HEAD (no body follows).
  Reply read_reply(bool head = false, std::chrono::milliseconds timeout = kTimeout);
  /// Reads until `needle` has arrived; returns the bytes up to and including it.
  std::string read_until(std::string_view needle, std::chrono::milliseconds timeout = kTimeout);
  /// Reads until the server closes the connection; false when it is still open at the timeout.
  bool wait_closed(std::chrono::milliseconds timeout = kTimeout);
  void close();

 private:
  template <class Start>
  void run(Start start, std::chrono::milliseconds timeout, const char* what);

  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
};

}  // namespace wonderland::http::testing
