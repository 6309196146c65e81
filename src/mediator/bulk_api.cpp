// Bulk operator actions (bulk_actions.hpp): POST /api/workflows/bulk runs a dry run (the count)
// or starts a job; GET /api/workflows/bulk and /api/workflows/bulk/{job_id} follow the jobs.
#include <algorithm>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "routes.hpp"
#include "wonderland/http/fields.hpp"
#include "wonderland/mediator/bulk_actions.hpp"
#include "workflow_filter.hpp"

namespace wonderland::mediator {
namespace {

/// Ids a dry run shows.
constexpr std::size_t kSampleSize = 10;

constexpr const char* kFilterFields[] = {"status", "definition", "version",
                                         "from",   "to",         "failing_step"};

/// The `filter` member of the body; errors go into `f`, named `filter.<field>`.
workflow::WorkflowQuery read_bulk_filter(const Json& body, http::JsonFields& f) {
  auto it = body.find("filter");
  if (it == body.end() || it->is_null())
    return {};
  if (!it->is_object()) {
    f.add("filter", "must be an object");
    return {};
  }
  // A misspelt field must not widen the filter to every workflow.
  for (const auto& [key, value] : it->items()) {
    if (std::find(std::begin(kFilterFields), std::end(kFilterFields), key) ==
        std::end(kFilterFields)) {
      f.add("filter." + key,
            "is not a filter field (status, definition, version, from, to, failing_step)");
    }
  }
  http::JsonFields inner(*it);
  workflow::WorkflowQuery query = read_workflow_filter(inner);
  for (const auto& e : inner.errors())
    f.add("filter." + e.field, e.message);
  return query;
}

/// POST /api/workflows/bulk {action, filter, all?, dry_run?, reason?}: 200 {action, filter,
/// matched, sample} for a dry run, else 202 with the job and its Location.
void bulk_action(Context& ctx, const Request& req, const Responder& r) {
  auto body = req.json_object();
  if (!body.ok())
    return void(r.respond(body.error()));
  http::JsonFields f(body.value());
  const std::string action_text = f.required_string("action", {1, 20});
  const std::optional<BulkAction> action = parse_bulk_action(action_text);
  if (!action && !action_text.empty())
    f.add("action", "must be retry, cancel, pause or resume");
  const bool dry_run = f.optional_bool("dry_run").value_or(false);
  const bool all = f.optional_bool("all").value_or(false);
  std::string reason = f.optional_string("reason", {1, 500}).value_or("cancelled by an operator");
  const workflow::WorkflowQuery filter = read_bulk_filter(body.value(), f);
  if (f.ok() && filter_is_empty(filter) && !all) {
    f.add("filter",
          "must set at least one of status, definition, version, from, to or failing_step; to act "
          "on every workflow give \"all\": true instead");
  }
  if (!f.ok())
    return void(r.respond(f.response(req.path())));
  auto ids = ctx.bulk->match(filter);
  if (!ids.ok())
    return void(r.respond(ids.error()));
  if (dry_run) {
    const std::size_t shown = std::min(kSampleSize, ids.value().size());
    Json sample(std::vector<std::string>(ids.value().begin(),
                                         ids.value().begin() + static_cast<std::ptrdiff_t>(shown)));
    return void(r.respond(Response::json(Json{{"action", action_text},
                                              {"filter", filter_json(filter)},
                                              {"matched", ids.value().size()},
                                              {"sample", std::move(sample)}})));
  }
  auto job = ctx.bulk->start(*action, filter, std::move(ids.value()), std::move(reason));
  if (!job.ok())
    return void(r.respond(job.error()));
  const std::string location = "/api/workflows/bulk/" + job.value().value("id", "");
  Response response = Response::json(job.value(), StatusCode::accepted);
  response.location(location);
  r.respond(std::move(response));
}

}  // namespace

void install_bulk_routes(Context& ctx, http::Router& router) {
  router.add_async(
      Method::post, "/api/workflows/bulk",
      admin(ctx, [&ctx](const Request& req, const Responder& r) { bulk_action(ctx, req, r); }));
  router.add_async(Method::get, "/api/workflows/bulk",
                   admin(ctx, [&ctx](const Request&, const Responder& r) {
                     r.respond(Response::json(Json{{"items", ctx.bulk->jobs()}}));
                   }));
  router.add_async(
      Method::get, "/api/workflows/bulk/{job_id}",
      admin(ctx, [&ctx](const Request& req, const Responder& r) {
        const std::string id(*req.param("job_id"));
        auto job = ctx.bulk->job(id);
        if (!job)
          return void(r.respond(Error::of(codes::kNotFound, "no bulk job '" + id + "'")));
        r.respond(Response::json(*job));
      }));
}

}  // namespace wonderland::mediator
