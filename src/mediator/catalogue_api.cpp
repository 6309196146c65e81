// The catalogue routes: the API's own description, the book pages and single books. Answers
// come from the catalogue cache when it has them, otherwise from the inventory service.
#include <cstdint>
#include <string>
#include <utility>

#include "routes.hpp"
#include "wonderland/http/fields.hpp"
#include "wonderland/inventory/protocol.hpp"

namespace wonderland::mediator {
namespace {

/// Answers from the catalogue cache, or asks the inventory and keeps the answer.
void cached_catalogue_call(Context& ctx, const Responder& r, const std::string& key,
                           const std::string& type, Json body) {
  auto respond = [r](std::string json_text) {
    Response response = Response::text(std::move(json_text), "application/json");
    response.cache_control("no-store");
    r.respond(std::move(response));
  };
  if (auto hit = ctx.catalogue->find(key))
    return respond(std::move(*hit));
  const std::uint64_t generation = ctx.catalogue->generation();
  ctx.call("inventory", type, std::move(body),
           [&ctx, r, key, generation, respond](Result<Json> reply) {
             if (!reply.ok())
               return void(r.respond(reply.error()));
             ctx.catalogue->remember(reply.value());
             std::string text = reply.value().dump(-1, ' ', false, Json::error_handler_t::replace);
             ctx.catalogue->put(key, text, generation);
             respond(std::move(text));
           });
}

void list_books(Context& ctx, const Request& req, const Responder& r) {
  http::QueryFields q(req);
  auto text = q.optional_string("q", {0, 200});
  auto page = q.optional_integer("page", {1, 1000000});
  auto size = q.optional_integer("page_size", {1, 100});
  if (!q.ok())
    return void(r.respond(q.response(req.path())));
  Json body{{"page", page.value_or(1)}, {"page_size", size.value_or(20)}};
  if (text && !text->empty())
    body["q"] = *text;
  std::string key = "list " + body.dump();
  cached_catalogue_call(ctx, r, key, inventory::commands::kListBooks, std::move(body));
}

void get_book(Context& ctx, const Request& req, const Responder& r) {
  std::string isbn(*req.param("isbn"));
  if (!valid_isbn(isbn)) {
    return void(r.respond(Error::of(codes::kNotFound, "no book has ISBN '" + isbn + "'")));
  }
  cached_catalogue_call(ctx, r, "book " + isbn, inventory::commands::kGetBook,
                        Json{{"isbn", isbn}});
}

}  // namespace

void install_catalogue_routes(Context& ctx, http::Router& router) {
  router.add(Method::get, "/api/openapi.json", [](const Request&) {
    Response response = Response::text(std::string(openapi_document()), "application/json");
    response.cache_control("no-cache");
    return response;
  });
  router.add_async(Method::get, "/api/books",
                   [&ctx](const Request& req, const Responder& r) { list_books(ctx, req, r); });
  router.add_async(Method::get, "/api/books/{isbn}",
                   [&ctx](const Request& req, const Responder& r) { get_book(ctx, req, r); });
}

}  // namespace wonderland::mediator
