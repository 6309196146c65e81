#include "wonderland/testing/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>

namespace wonderland::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

nlohmann::json HttpResponse::json() const {
  auto j = nlohmann::json::parse(body, nullptr, false);
  return j.is_discarded() ? nlohmann::json() : j;
}

std::string HttpResponse::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

struct HttpClient::Impl {
  asio::io_context io;
  beast::tcp_stream stream{io};
  std::string host;
  int port;
  bool connected = false;

  void connect() {
    asio::ip::tcp::resolver resolver(io);
    stream.connect(resolver.resolve(host, std::to_string(port)));
    connected = true;
  }

  HttpResponse once(const std::string& method, const std::string& target, const std::string& body,
                    const std::map<std::string, std::string>& headers) {
    if (!connected) connect();
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, host);
    req.keep_alive(true);
    for (const auto& [k, v] : headers) req.set(k, v);
    if (!body.empty()) {
      if (headers.find("Content-Type") == headers.end()) req.set(http::field::content_type, "application/json");
      req.body() = body;
    }
    req.prepare_payload();
    stream.expires_after(std::chrono::seconds(60));
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    if (method == "HEAD") parser.skip(true);
    http::read(stream, buffer, parser);
    auto& res = parser.get();
    HttpResponse out;
    out.status = static_cast<int>(res.result_int());
    for (const auto& field : res) {
      std::string name(field.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[name] = std::string(field.value());
    }
    out.body = res.body();
    if (!res.keep_alive()) {
      beast::error_code ec;
      stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
      stream.close();
      connected = false;
    }
    return out;
  }
};

HttpClient::HttpClient(int port, std::string host) : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
}
HttpClient::~HttpClient() = default;
HttpClient::HttpClient(HttpClient&&) noexcept = default;

HttpResponse HttpClient::request(const std::string& method, const std::string& target,
                                 const std::string& body,
                                 const std::map<std::string, std::string>& headers) {
  try {
    return impl_->once(method, target, body, headers);
  } catch (const std::exception&) {
    // The server may have closed an idle keep-alive connection: retry once on a new one.
    impl_->stream.close();
    impl_->connected = false;
    return impl_->once(method, target, body, headers);
  }
}

namespace {
std::map<std::string, std::string> auth(const std::string& token,
                                        std::map<std::string, std::string> headers = {}) {
  if (!token.empty()) headers["Authorization"] = "Bearer " + token;
  return headers;
}
}  // namespace

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

}  // namespace wonderland::testing
