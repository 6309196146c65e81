// A small blocking HTTP/1.1 client for tests (Boost.Beast): one keep-alive connection to
// 127.0.0.1 (or another host), every operation bounded by the client's timeout (it throws on
// expiry instead of hanging).
//
//   HttpClient http(port);                       // connects on first use
//   auto r = http.post_json("/api/sessions", {{"username", "alice"}, {"password", "..."}});
//   EXPECT_EQ(r.status, 201);
//
// Server tests also speak raw HTTP on the connection: send_raw, read_reply, read_until and
// wait_closed never reconnect, so they see exactly what the server did.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace wonderland::testing {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  ///< lower-case names
  std::string body;
  /// Whether the server keeps the connection open after this response.
  bool keep_alive = false;

  /// The body as JSON (null when it is not JSON).
  nlohmann::json json() const;
  /// A header's value (the name in any case), or "" when absent.
  std::string header(std::string_view name) const;
};

/// "HTTP <status> <body>", the body cut after `max_body` bytes: for assertion messages.
std::string describe(const HttpResponse& r, std::size_t max_body = 600);

class HttpClient {
 public:
  static constexpr std::chrono::milliseconds kDefaultTimeout{60000};

  explicit HttpClient(int port, std::string host = "127.0.0.1",
                      std::chrono::milliseconds timeout = kDefaultTimeout);
  ~HttpClient();
  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;

  /// Opens the connection now (requests open it when needed); throws when it cannot.
  void connect();

  /// Sends a request; reconnects once when the kept-alive connection was closed.
  HttpResponse request(const std::string& method, const std::string& target,
                       const std::string& body = {},
                       const std::map<std::string, std::string>& headers = {});
  HttpResponse get(const std::string& target, const std::string& token = {});
  HttpResponse post_json(const std::string& target, const nlohmann::json& body,
                         const std::string& token = {},
                         const std::map<std::string, std::string>& headers = {});
  HttpResponse put_json(const std::string& target, const nlohmann::json& body,
                        const std::string& token = {});
  HttpResponse del(const std::string& target, const std::string& token = {});

  /// Sends bytes as they are.
  void send_raw(std::string_view bytes);
  /// Reads one response; `head` for responses to HEAD (no body follows).
  HttpResponse read_reply(bool head = false);
  /// Reads until `needle` has arrived, for at most `timeout` (the client's timeout by default);
  /// returns the bytes up to and including it.
  std::string read_until(std::string_view needle, std::chrono::milliseconds timeout = {});
  /// Reads until the server closes the connection; false when it is still open after `timeout`
  /// (the client's timeout by default).
  bool wait_closed(std::chrono::milliseconds timeout = {});
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wonderland::testing
