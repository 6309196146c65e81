// The HTTP side of the health check: GET a plain-HTTP URL and require 200 (the mediator's
// /readyz). Every step is asynchronous on one io_context run until the deadline, so that a
// server that accepts and never answers (or a name that does not resolve) cannot hold it longer.
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>

#include "wonderland/healthcheck/healthcheck.hpp"

namespace wonderland::healthcheck {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

constexpr std::size_t kMaxBodyShown = 300;
constexpr unsigned kMaxPort = 65535;
constexpr int kHttp11 = 11;

/// One GET, step by step; `verdict` is set once it ends (empty string: 200).
class Probe {
 public:
  Probe(net::io_context& io, HttpUrl url, std::string shown)
      : resolver_(io), stream_(io), url_(std::move(url)), shown_(std::move(shown)) {
    request_ = {http::verb::get, url_.target, kHttp11};
    const bool ipv6 = url_.host.find(':') != std::string::npos;
    request_.set(http::field::host, (ipv6 ? "[" + url_.host + "]" : url_.host) + ":" + url_.port);
    request_.set(http::field::user_agent, "wonderland-healthcheck");
    request_.set(http::field::connection, "close");
  }

  void start() {
    resolver_.async_resolve(
        url_.host, url_.port,
        [this](beast::error_code ec, const tcp::resolver::results_type& r) { on_resolve(ec, r); });
  }

  const std::optional<std::string>& verdict() const { return verdict_; }

 private:
  void fail(const std::string& step, const beast::error_code& ec) {
    verdict_ = "GET " + shown_ + ": " + step + ": " + ec.message();
  }
  void on_resolve(beast::error_code ec, const tcp::resolver::results_type& results) {
    if (ec)
      return fail("cannot resolve " + url_.host, ec);
    stream_.async_connect(results, [this](beast::error_code e, const tcp::endpoint&) {
      if (e)
        return fail("cannot connect", e);
      http::async_write(stream_, request_, [this](beast::error_code w, std::size_t) {
        if (w)
          return fail("cannot send the request", w);
        http::async_read(stream_, buffer_, response_,
                         [this](beast::error_code r, std::size_t) { on_read(r); });
      });
    });
  }
  void on_read(beast::error_code ec) {
    if (ec)
      return fail("no answer", ec);
    if (response_.result() == http::status::ok) {
      verdict_ = std::string();
      return;
    }
    std::string body = response_.body().substr(0, kMaxBodyShown);
    for (char& c : body) {
      if (c == '\n' || c == '\r')
        c = ' ';
    }
    verdict_ = "GET " + shown_ + " answered " + std::to_string(response_.result_int()) +
               (body.empty() ? "" : ": " + body);
  }

  tcp::resolver resolver_;
  beast::tcp_stream stream_;
  HttpUrl url_;
  std::string shown_;
  http::request<http::empty_body> request_;
  beast::flat_buffer buffer_;
  http::response<http::string_body> response_;
  std::optional<std::string> verdict_;
};

Error bad_url(std::string_view url, const std::string& why) {
  return Error::of(codes::kInvalidArgument, "--http '" + std::string(url) + "': " + why);
}

}  // namespace

Result<HttpUrl> parse_http_url(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme)
    return bad_url(url, "not an http:// URL (plain HTTP only)");
  std::string_view rest = url.substr(kScheme.size());
  const auto end = std::min(rest.find_first_of("/?#"), rest.size());
  std::string_view authority = rest.substr(0, end);
  HttpUrl out;
  std::string target(rest.substr(end));
  target = target.substr(0, target.find('#'));
  out.target = target.empty() ? "/" : target.front() == '?' ? "/" + target : target;
  if (authority.find('@') != std::string_view::npos)
    return bad_url(url, "credentials in the URL are not supported");
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos)
      return bad_url(url, "unclosed '[' in the host");
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':')
      return bad_url(url, "unexpected text after the host");
    port = after.empty() ? std::string_view() : after.substr(1);
  } else {
    const auto colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    port = colon == std::string_view::npos ? std::string_view() : authority.substr(colon + 1);
  }
  if (out.host.empty())
    return bad_url(url, "no host");
  if (!port.empty()) {
    unsigned value = 0;
    for (char c : port) {
      if (std::isdigit(static_cast<unsigned char>(c)) == 0 || value > kMaxPort)
        return bad_url(url, "the port is not a number from 1 to 65535");
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > kMaxPort)
      return bad_url(url, "the port is not a number from 1 to 65535");
    out.port = std::string(port);
  }
  return out;
}

std::optional<std::string> check_http(const std::string& url, Clock::time_point deadline) {
  Result<HttpUrl> parsed = parse_http_url(url);
  if (!parsed.ok())
    return parsed.error().message;
  net::io_context io;
  Probe probe(io, std::move(parsed.value()), url);
  probe.start();
  io.run_until(deadline);
  if (!probe.verdict())
    return "GET " + url + ": no answer in time";
  if (probe.verdict()->empty())
    return std::nullopt;
  return probe.verdict();
}

}  // namespace wonderland::healthcheck
