// Fuzz target: raw bytes as an HTTP/1.1 request, through what the server does with them.
// Beast's parser (with the server's header and body limits), the request target split into
// path and decoded query, the router (a route table shaped like the public and operator APIs),
// then the handlers' work on the request: bearer token, headers, the JSON body (bounded
// parse, object check, typed fields, nested objects copied and serialized), and the problem
// response of any error.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstdint>
#include <string>

#include "fuzz_input.hpp"
#include "wonderland/common/json_text.hpp"
#include "wonderland/http/fields.hpp"
#include "wonderland/http/request.hpp"
#include "wonderland/http/response.hpp"
#include "wonderland/http/router.hpp"
#include "wonderland/http/url.hpp"

namespace {

namespace bhttp = boost::beast::http;
using wonderland::http::JsonFields;
using wonderland::http::Method;
using wonderland::http::Request;
using wonderland::http::Response;
using wonderland::http::Router;

/// Reads the body as the real handlers do; returns the response they would send.
Response read_body(const Request& req) {
  auto body = req.json_object();
  if (!body.ok())
    return Response::error(body.error(), req.path());
  JsonFields f(body.value());
  f.optional_string("username", {1, 200});
  f.optional_string("email", {1, 320});
  f.optional_string("password", {1, 1024});
  f.optional_integer("quantity", {0, 3});
  f.optional_integer("version", {1, 1000000});
  f.optional_bool("flag");
  f.optional_number("amount");
  f.string_array("tags");
  if (body.value().contains("payment")) {
    nlohmann::json payment = f.required_object("payment");
    (void)wonderland::to_json_text(payment);
  }
  if (body.value().contains("input")) {
    nlohmann::json input = f.required_object("input");
    (void)input.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  if (!f.ok())
    return f.response(req.path());
  return Response::json(body.value());
}

Router make_router() {
  Router r;
  auto sync = [](const Request& req) {
    (void)req.bearer_token();
    (void)req.header("Idempotency-Key");
    (void)req.query("page");
    for (const auto& [name, value] : req.params())
      (void)req.param(name);
    return read_body(req);
  };
  r.add(Method::get, "/api/books", sync);
  r.add(Method::get, "/api/books/{isbn}", sync);
  r.add(Method::post, "/api/customers", sync);
  r.add(Method::post, "/api/sessions", sync);
  r.add(Method::put, "/api/basket/items/{isbn}", sync);
  r.add(Method::post, "/api/orders", sync);
  r.add(Method::get, "/api/orders/{id}", sync);
  r.add(Method::post, "/api/workflows", sync);
  r.add(Method::post, "/api/workflows/{id}/cancel", sync);
  r.add(Method::get, "/api/definitions/{name}/{version}", sync);
  r.add(Method::get, "/{path...}", sync);
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Router router = make_router();
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(16 << 10);  // the server's defaults
  parser.body_limit(1 << 20);
  parser.eager(true);
  boost::beast::error_code ec;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::size_t used = 0;
  while (used < bytes.size() && !parser.is_done()) {
    std::size_t n =
        parser.put(boost::asio::const_buffer(bytes.data() + used, bytes.size() - used), ec);
    if (ec == bhttp::error::need_more)
      break;
    if (ec || n == 0)
      return 0;
    used += n;
  }
  if (!parser.is_done()) {
    parser.put_eof(ec);
    if (ec || !parser.is_done())
      return 0;
  }
  wonderland::http::RawRequest message = parser.release();
  std::string target(message.target());
  std::string path = target.substr(0, target.find('?'));
  wonderland::http::QueryParams query;
  if (auto q = target.find('?'); q != std::string::npos) {
    auto parsed = wonderland::http::parse_query(std::string_view(target).substr(q + 1));
    if (!parsed) {
      (void)Response::error(parsed.error(), path);
      return 0;
    }
    query = std::move(*parsed);
  }
  if (path.empty() || path.front() != '/')
    return 0;
  auto match = router.match(message.method(), path);
  if (match.kind != Router::Match::Kind::kFound)
    return 0;
  Request request(std::move(message), path, std::move(query), std::move(match.params));
  Response response = std::get<wonderland::http::SyncHandler>(match.route->handler)(request);
  (void)response.body();
  return 0;
}
