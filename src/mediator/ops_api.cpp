// Operator routes: health, the workflows and their timelines, retry and cancel, definitions,
// logs and metrics. Every route but /healthz and /readyz needs the admin token. Each route group
// lives in its own file (routes.hpp).
#include "routes.hpp"

namespace wonderland::mediator {
namespace {

/// GET /healthz (the process answers) and GET /readyz (broker and engine are up).
void install_health_routes(Context& ctx, http::Router& router) {
  router.add(Method::get, "/healthz", [](const Request&) {
    return Response::json(Json{{"status", "ok"}});
  });
  router.add(Method::get, "/readyz", [&ctx](const Request&) {
    bool broker = ctx.connection.connected();
    bool engine = ctx.engine.healthy();
    Json body{{"broker", broker ? "up" : "down"}, {"engine", engine ? "up" : "down"}};
    body["status"] = broker && engine ? "ready" : "not ready";
    return Response::json(body,
                          broker && engine ? StatusCode::ok : StatusCode::service_unavailable);
  });
}

}  // namespace

void install_ops_api(Context& ctx, http::Router& router) {
  install_health_routes(ctx, router);
  install_workflow_routes(ctx, router);
  install_definition_routes(ctx, router);
  install_monitoring_routes(ctx, router);
}

}  // namespace wonderland::mediator
