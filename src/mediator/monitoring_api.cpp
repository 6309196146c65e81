// The monitoring routes (operators): the stored logs, the live log stream, and the metrics for
// Prometheus and for the console's charts.
#include "routes.hpp"
#include "wonderland/log_service/protocol.hpp"
#include "wonderland/log_store/query.hpp"
#include "wonderland/messaging/pubsub.hpp"

namespace wonderland::mediator {
namespace {

/// GET /api/logs: asks the logging service, with the request's filter.
void query_logs(Context& ctx, const Request& req, const Responder& r) {
  auto query = log_store::Query::from_params(log_filter_params(req));
  if (!query.ok())
    return void(r.respond(log_filter_error(req, query.error())));
  messaging::QueueName queue{ctx.config.queue_prefix + log_service::kQueryQueue.str()};
  ctx.call(queue, log_service::kQueryType, query.value().to_json(), [r](Result<Json> out) {
    if (!out.ok())
      return void(r.respond(out.error()));
    r.respond(Response::json(out.value()));
  });
}

}  // namespace

void install_monitoring_routes(Context& ctx, http::Router& router) {
  router.add_async(
      Method::get, "/api/logs",
      admin(ctx, [&ctx](const Request& req, const Responder& r) { query_logs(ctx, req, r); }));
  router.add_async(Method::get, "/api/logs/stream",
                   admin(ctx, [&ctx](const Request& req, const Responder& r) {
                     start_log_stream(ctx, req, r);
                   }));
  router.add_async(Method::get, "/metrics", admin(ctx, [&ctx](const Request&, const Responder& r) {
                     Response response(http::StatusCode::ok);
                     response.header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
                     response.body(prometheus_metrics(ctx));
                     r.respond(std::move(response));
                   }));
  router.add_async(Method::get, "/api/metrics",
                   admin(ctx, [&ctx](const Request&, const Responder& r) {
                     r.respond(Response::json(metrics_json(ctx)));
                   }));
}

}  // namespace wonderland::mediator
