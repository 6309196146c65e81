// The workflow definition routes (operators): every registered definition, and one definition's
// document as loaded, for the console's diagrams.
#include <charconv>
#include <string>

#include "routes.hpp"

namespace wonderland::mediator {
namespace {

void list_definitions(Context& ctx, const Responder& r) {
  Json items = Json::array();
  for (const auto& def : ctx.registry.all()) {
    Json d{{"name", def->name},
           {"version", def->version},
           {"description", def->description},
           {"digest", def->digest},
           {"source", def->source}};
    items.push_back(std::move(d));
  }
  r.respond(Response::json(Json{{"items", items}}));
}

void get_definition(Context& ctx, const Request& req, const Responder& r) {
  std::string name(*req.param("name"));
  const std::string_view text = *req.param("version");
  int version = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), version);
  if (ec != std::errc{} || end != text.data() + text.size()) {
    return void(r.respond(Error::of(codes::kNotFound, "no such definition version")));
  }
  auto doc = definition_document(ctx, name, version);
  if (!doc) {
    return void(r.respond(
        Error::of(codes::kNotFound, "no definition " + name + " v" + std::to_string(version))));
  }
  r.respond(Response::json(*doc));
}

}  // namespace

void install_definition_routes(Context& ctx, http::Router& router) {
  router.add_async(
      Method::get, "/api/definitions",
      admin(ctx, [&ctx](const Request&, const Responder& r) { list_definitions(ctx, r); }));
  router.add_async(
      Method::get, "/api/definitions/{name}/{version}",
      admin(ctx, [&ctx](const Request& req, const Responder& r) { get_definition(ctx, req, r); }));
}

}  // namespace wonderland::mediator
