// The workflow definition routes (operators): every registered definition with how many of its
// workflows run, and one definition's document as loaded, for the console's diagrams.
#include <charconv>
#include <map>
#include <string>
#include <utility>

#include "routes.hpp"

namespace wonderland::mediator {
namespace {

/// Each definition version with how many of its workflows run (have not ended): a running
/// workflow keeps the version it started with, so several versions may run at once.
void list_definitions(Context& ctx, const Responder& r) {
  auto counts = ctx.engine.running_by_version();
  if (!counts)
    return void(r.respond(counts.error()));
  std::map<std::pair<std::string, int>, std::int64_t> running;
  for (const auto& c : *counts)
    running[{c.definition, c.version}] = c.running;
  Json items = Json::array();
  for (const auto& def : ctx.registry.all()) {
    auto n = running.find({def->name, def->version});
    Json d{{"name", def->name},
           {"version", def->version},
           {"description", def->description},
           {"digest", def->digest},
           {"source", def->source},
           {"running", n != running.end() ? n->second : 0}};
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
