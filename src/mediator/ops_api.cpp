// Operator routes: health, the workflows and their timelines, retry and cancel, definitions,
// logs and metrics. Every route but /healthz and /readyz needs the admin token. Each route group
// lives in its own file (routes.hpp).
#include "routes.hpp"

namespace wonderland::mediator {
namespace {

/// GET /healthz (the process answers) and GET /readyz (broker and engine are up and, unless
/// WONDERLAND_READYZ_REQUIRE_CONSUMERS is off, every service the workflows call has consumed its
/// command queue at some check since start: `services` gives each queue's consumers now, null
/// where the broker was not asked, and `degraded` is true while one of them has none).
/// /readyz reads the last periodic check: it never waits on the broker.
void install_health_routes(Context& ctx, http::Router& router) {
  router.add(Method::get, "/healthz", [](const Request&) {
    return Response::json(Json{{"status", "ok"}});
  });
  router.add(Method::get, "/readyz", [&ctx](const Request&) {
    bool broker = ctx.connection.connected();
    bool engine = ctx.engine.healthy();
    bool ready = broker && engine;
    Json body{{"broker", broker ? "up" : "down"}, {"engine", engine ? "up" : "down"}};
    if (ctx.readiness != nullptr) {
      ConsumerReadiness::Snapshot services = ctx.readiness->snapshot();
      Json counts = Json::object();
      for (const auto& [queue, consumers] : services.consumers)
        counts[queue] = consumers ? Json(*consumers) : Json(nullptr);
      body["services"] = std::move(counts);
      // Once every service has been seen consuming, one that goes away later leaves the
      // mediator ready: it still serves what needs no service, and orders wait for it.
      ready = ready && services.ready_once;
      if (services.ready_once && !services.ready())
        body["degraded"] = true;
    }
    body["status"] = ready ? "ready" : "not ready";
    return Response::json(body, ready ? StatusCode::ok : StatusCode::service_unavailable);
  });
}

/// GET /api/mediators: this mediator, and with a shared journal every registered mediator with
/// the number of running workflows it owns.
void install_mediator_routes(Context& ctx, http::Router& router) {
  router.add_async(
      Method::get, "/api/mediators", admin(ctx, [&ctx](const Request&, const Responder& r) {
        Json body{{"instance_id", ctx.config.instance_id},
                  {"journal", ctx.shared_journal ? "postgresql" : "sqlite"}};
        if (!ctx.shared_journal) {
          body["mediators"] = Json::array({{{"instance_id", ctx.config.instance_id},
                                            {"running", ctx.engine.metrics().in_flight},
                                            {"alive", true}}});
          return void(r.respond(Response::json(body)));
        }
        auto listed = ctx.shared_journal->mediators();
        if (!listed)
          return void(r.respond(listed.error()));
        Json items = Json::array();
        for (const workflow::MediatorInfo& m : *listed) {
          items.push_back({{"instance_id", m.instance_id},
                           {"started_at", m.started_at},
                           {"heartbeat_at", m.heartbeat_at},
                           {"running", m.running},
                           {"alive", m.alive}});
        }
        body["mediators"] = std::move(items);
        r.respond(Response::json(body));
      }));
}

}  // namespace

void install_ops_api(Context& ctx, http::Router& router) {
  install_health_routes(ctx, router);
  install_mediator_routes(ctx, router);
  install_workflow_routes(ctx, router);
  install_bulk_routes(ctx, router);
  install_definition_routes(ctx, router);
  install_monitoring_routes(ctx, router);
}

}  // namespace wonderland::mediator
