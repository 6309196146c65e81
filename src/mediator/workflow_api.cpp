// The workflow routes (operators): listing and filtering workflows, starting one of any
// definition, one workflow with its timeline, retry, rerun, cancel, signals, pause and resume.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "owner_requests.hpp"
#include "routes.hpp"
#include "wonderland/common/ids.hpp"
#include "wonderland/http/fields.hpp"
#include "wonderland/mediator/redact.hpp"
#include "wonderland/workflow/definition.hpp"
#include "workflow_filter.hpp"

namespace wonderland::mediator {
namespace {

Json summary_json(const workflow::WorkflowSummary& s) {
  Json j{{"id", s.id},
         {"definition", s.definition},
         {"version", s.version},
         {"status", std::string(workflow::to_string(s.status))},
         {"created_at", s.created_at},
         {"updated_at", s.updated_at}};
  if (!s.reason.empty())
    j["reason"] = s.reason;
  if (s.archived)
    j["archived"] = true;
  return j;
}

Json record_json(const workflow::JournalRecord& r) {
  Json j{{"seq", r.seq},         {"type", r.type}, {"step", r.step},
         {"attempt", r.attempt}, {"at", r.at},     {"data", redact(r.data)}};
  if (r.status)
    j["status"] = std::string(workflow::to_string(*r.status));
  return j;
}

void status_reply(const Responder& r, const wonderland::Status& s) {
  if (s.ok()) {
    r.respond(Response::json(Json{{"accepted", true}}, StatusCode::accepted));
  } else {
    r.respond(s.error());
  }
}

/// The filter of GET /api/workflows from its query string; errors go into `q`.
workflow::WorkflowQuery workflow_query(http::QueryFields& q) {
  workflow::WorkflowQuery query = read_workflow_filter(q);
  query.limit = static_cast<std::size_t>(q.optional_integer("limit", {1, 1000}).value_or(50));
  query.page_token = q.optional_string("page_token", {0, 200}).value_or("");
  return query;
}

/// With archived=true the archive is listed: only status, definition and paging apply there.
void refuse_archive_filters(http::QueryFields& q, const workflow::WorkflowQuery& query) {
  if (query.version || query.created_from || query.created_to || query.failing_step) {
    q.add("archived",
          "with archived=true only status, definition, limit and page_token filter the list");
  }
}

void list_workflows(Context& ctx, const Request& req, const Responder& r) {
  http::QueryFields q(req);
  workflow::WorkflowQuery query = workflow_query(q);
  const bool archived = q.optional_bool("archived").value_or(false);
  if (archived)
    refuse_archive_filters(q, query);
  if (!q.ok())
    return void(r.respond(q.response(req.path())));
  auto page = archived ? ctx.engine.list_archived(query) : ctx.engine.list(query);
  if (!page.ok())
    return void(r.respond(page.error()));
  Json items = Json::array();
  for (const auto& s : page.value().items)
    items.push_back(summary_json(s));
  Json out{{"items", items}};
  if (!page.value().next_page_token.empty())
    out["next_page_token"] = page.value().next_page_token;
  r.respond(Response::json(out));
}

/// Starts a workflow of any registered definition: {definition, version?, input?, id?} → 202
/// {id}. Unknown definitions are 404, a bad body 400, an id that exists 409.
void start_workflow(Context& ctx, const Request& req, const Responder& r) {
  auto body = req.json_object();
  if (!body.ok())
    return void(r.respond(body.error()));
  http::JsonFields f(body.value());
  std::string definition = f.required_string("definition", {1, 200});
  auto version = f.optional_integer("version", {1, 1000000});
  auto id = f.optional_string("id", {1, 128});
  Json input = Json::object();
  if (body.value().contains("input") && !body.value()["input"].is_null()) {
    input = f.required_object("input");
  }
  if (!f.ok())
    return void(r.respond(f.response(req.path())));
  workflow::StartRequest start;
  start.definition = std::move(definition);
  start.version = static_cast<int>(version.value_or(0));
  start.input = std::move(input);
  start.id = id.value_or("");
  ctx.engine.start(std::move(start), [r](Result<std::string> started) {
    if (!started.ok())
      return void(r.respond(started.error()));
    r.respond(Response::json(Json{{"id", started.value()}}, StatusCode::accepted));
  });
}

void get_workflow(Context& ctx, const Request& req, const Responder& r) {
  std::string id(*req.param("id"));
  // One read of the journal: the summary and the timeline together.
  auto history = ctx.engine.history(id);
  if (!history.ok()) {
    if (history.error().code == codes::kNotFound)
      return void(r.respond(Error::of(codes::kNotFound, "no workflow '" + id + "'")));
    return void(r.respond(history.error()));
  }
  const workflow::WorkflowSummary& summary = history.value().summary;
  const std::vector<workflow::JournalRecord>& records = history.value().records;
  Json timeline = Json::array();
  for (const auto& rec : records)
    timeline.push_back(record_json(rec));
  Json out = summary_json(summary);
  out["timeline"] = std::move(timeline);
  if (!records.empty()) {
    const Json& started = records.front().data;
    out["input"] = redact(started.value("input", Json::object()));
    if (auto parent = started.find("parent"); parent != started.end() && parent->is_object())
      out["parent"] = *parent;  // a child of a workflow or map step
  }
  // Whether the workflow passed its pivot: from there on it can no longer be cancelled.
  if (auto def = ctx.registry.find(summary.definition, summary.version); def && def->pivot_step()) {
    out["pivot"] = {{"step", def->pivot_step()->id},
                    {"passed", workflow::is_decided(*def, records)}};
  }
  r.respond(Response::json(out));
}

/// Cancel, retry, pause or resume: by this engine, or with several mediators by the workflow's
/// owner.
void submit(Context& ctx, OwnerRequest request, const Responder& r) {
  submit_request(ctx.owner_requests, ctx.engine, std::move(request),
                 [r](const wonderland::Status& s) { status_reply(r, s); });
}

void cancel_workflow(Context& ctx, const Request& req, const Responder& r) {
  std::string reason = "cancelled by an operator";
  if (!req.body().empty()) {
    auto body = req.json_object();
    if (!body.ok())
      return void(r.respond(body.error()));
    http::JsonFields f(body.value());
    reason = f.optional_string("reason", {1, 500}).value_or(reason);
    if (!f.ok())
      return void(r.respond(f.response(req.path())));
  }
  submit(ctx, {OwnerRequest::Kind::kCancel, std::string(*req.param("id")), std::move(reason)}, r);
}

/// POST /api/workflows/{id}/rerun {step, input?} → 202 {accepted}. Who asked is the holder of the
/// admin token; the client's address tells them apart.
void rerun_workflow(Context& ctx, const Request& req, const Responder& r) {
  auto body = req.json_object();
  if (!body.ok())
    return void(r.respond(body.error()));
  http::JsonFields f(body.value());
  OwnerRequest request;
  request.kind = OwnerRequest::Kind::kRerun;
  request.workflow_id = std::string(*req.param("id"));
  request.step = f.required_string("step", {1, 200});
  if (body.value().contains("input") && !body.value()["input"].is_null())
    request.input = f.required_object("input");
  if (!f.ok())
    return void(r.respond(f.response(req.path())));
  // Behind trusted proxies (WONDERLAND_HTTP_TRUSTED_PROXIES), the client's own address.
  const std::string address = ctx.throttles->client_address(req);
  request.requested_by = "admin token from " + (address.empty() ? "an unknown address" : address);
  submit(ctx, std::move(request), r);
}

/// POST /api/workflows/{id}/signals/{name} {signal_id?, payload?} → 202 {accepted, signal_id}.
/// A new signal id is given when there is none, and returned, so that the caller may resend.
void signal_workflow(Context& ctx, const Request& req, const Responder& r) {
  OwnerRequest request;
  request.kind = OwnerRequest::Kind::kSignal;
  request.workflow_id = std::string(*req.param("id"));
  request.signal = std::string(*req.param("name"));
  if (!req.body().empty()) {
    auto body = req.json_object();
    if (!body.ok())
      return void(r.respond(body.error()));
    http::JsonFields f(body.value());
    request.signal_id = f.optional_string("signal_id", {1, 200}).value_or("");
    if (body.value().contains("payload") && !body.value()["payload"].is_null())
      request.payload = f.required_object("payload");
    if (!f.ok())
      return void(r.respond(f.response(req.path())));
  }
  if (request.signal_id.empty())
    request.signal_id = new_uuid();
  auto reply = [r, signal_id = request.signal_id](const wonderland::Status& s) {
    if (!s.ok())
      return void(r.respond(s.error()));
    r.respond(
        Response::json(Json{{"accepted", true}, {"signal_id", signal_id}}, StatusCode::accepted));
  };
  submit_request(ctx.owner_requests, ctx.engine, std::move(request), std::move(reply));
}

}  // namespace

void install_workflow_routes(Context& ctx, http::Router& router) {
  router.add_async(
      Method::get, "/api/workflows",
      admin(ctx, [&ctx](const Request& req, const Responder& r) { list_workflows(ctx, req, r); }));
  router.add_async(
      Method::post, "/api/workflows",
      admin(ctx, [&ctx](const Request& req, const Responder& r) { start_workflow(ctx, req, r); }));
  router.add_async(
      Method::get, "/api/workflows/{id}",
      admin(ctx, [&ctx](const Request& req, const Responder& r) { get_workflow(ctx, req, r); }));
  router.add_async(
      Method::post, "/api/workflows/{id}/retry",
      admin(ctx, [&ctx](const Request& req, const Responder& r) {
        submit(ctx, {OwnerRequest::Kind::kRetry, std::string(*req.param("id")), {}}, r);
      }));
  router.add_async(
      Method::post, "/api/workflows/{id}/rerun",
      admin(ctx, [&ctx](const Request& req, const Responder& r) { rerun_workflow(ctx, req, r); }));
  router.add_async(
      Method::post, "/api/workflows/{id}/cancel",
      admin(ctx, [&ctx](const Request& req, const Responder& r) { cancel_workflow(ctx, req, r); }));
  router.add_async(
      Method::post, "/api/workflows/{id}/pause",
      admin(ctx, [&ctx](const Request& req, const Responder& r) {
        submit(ctx, {OwnerRequest::Kind::kPause, std::string(*req.param("id")), {}}, r);
      }));
  router.add_async(
      Method::post, "/api/workflows/{id}/resume",
      admin(ctx, [&ctx](const Request& req, const Responder& r) {
        submit(ctx, {OwnerRequest::Kind::kResume, std::string(*req.param("id")), {}}, r);
      }));
  router.add_async(
      Method::post, "/api/workflows/{id}/signals/{name}",
      admin(ctx, [&ctx](const Request& req, const Responder& r) { signal_workflow(ctx, req, r); }));
}

}  // namespace wonderland::mediator
