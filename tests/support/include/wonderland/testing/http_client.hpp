// A small blocking HTTP/1.1 client for tests (Boost.Beast), one keep-alive connection.
#pragma once

#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

namespace wonderland::testing {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  ///< lower-case names
  std::string body;

  /// The body as JSON (null when it is not JSON).
  nlohmann::json json() const;
  std::string header(const std::string& lower_name) const;
};

class HttpClient {
 public:
  explicit HttpClient(int port, std::string host = "127.0.0.1");
  ~HttpClient();
  HttpClient(HttpClient&&) noexcept;

  /// Sends a request; reconnects once when the kept-alive connection was closed.
  HttpResponse request(const std::string& method, const std::string& target,
                       const std::string& body = {},
                       const std::map<std::string, std::string>& headers = {});
  HttpResponse get(const std::string& target, const std::string& token = {});
  HttpResponse post_json(const std::string& target, const nlohmann::json& body,
                         const std::string& token = {},
                         const std::map<std::string, std::string>& headers = {});
  HttpResponse put_json(const std::string& target, const nlohmann::json& body, const std::string& token = {});
  HttpResponse del(const std::string& target, const std::string& token = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wonderland::testing
