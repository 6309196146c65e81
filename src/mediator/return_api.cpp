// The return routes: asking to return lines of a confirmed order (checked by the customer
// service, then the `return` workflow), one return, and the caller's returns.
#include <set>
#include <string>
#include <utility>

#include "routes.hpp"
#include "wonderland/common/ids.hpp"
#include "wonderland/customer/protocol.hpp"
#include "wonderland/http/fields.hpp"
#include "wonderland/mediator/returns.hpp"

namespace wonderland::mediator {
namespace {

constexpr std::size_t kMaxReturnLines = 100;

/// The request's `lines` ([{isbn, quantity}], distinct ISBN-13s), with errors named
/// `lines[i].field` in `f`.
Json read_return_lines(http::JsonFields& f) {
  Json lines = f.required_array("lines");
  if (!lines.is_array())
    return Json::array();
  if (lines.empty() || lines.size() > kMaxReturnLines) {
    f.add("lines", "must have 1 to " + std::to_string(kMaxReturnLines) + " lines");
    return Json::array();
  }
  Json out = Json::array();
  std::set<std::string> seen;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string at = "lines[" + std::to_string(i) + "]";
    if (!lines[i].is_object()) {
      f.add(at, "must be an object {isbn, quantity}");
      continue;
    }
    http::JsonFields line(lines[i]);
    std::string isbn = line.required_string("isbn", {.min_length = 13, .max_length = 13});
    std::int64_t quantity = line.required_integer("quantity", {.min = 1, .max = 1000});
    for (auto it = lines[i].begin(); it != lines[i].end(); ++it) {
      if (it.key() != "isbn" && it.key() != "quantity")
        line.add(it.key().size() <= 40 ? it.key() : std::string("field"), "is not a known field");
    }
    if (line.ok() && !valid_isbn(isbn))
      line.add("isbn", "must be an ISBN-13 (13 digits)");
    if (line.ok() && !seen.insert(isbn).second)
      line.add("isbn", "appears on another line; give each book once");
    for (const auto& e : line.errors())
      f.add(at + "." + e.field, e.message);
    if (line.ok())
      out.push_back(Json{{"isbn", isbn}, {"quantity", quantity}});
  }
  return out;
}

/// Starts the return workflow for lines the customer service accepted, and answers 202.
void start_return(Context& ctx, const Json& profile, const std::string& return_id,
                  const std::string& order_id, const Json& checked, const Responder& r) {
  workflow::StartRequest start;
  start.definition = "return";
  start.id = return_id;
  start.input = return_input(return_id, order_id, profile, checked,
                             ctx.config.return_parcel_timeout, std::chrono::system_clock::now());
  const std::string customer_id = profile.value("customer_id", "");
  ctx.engine.start(
      std::move(start), [&ctx, r, return_id, customer_id](const Result<std::string>& started) {
        // A retry of the same request names the same return: answered as the first time.
        if (!started.ok() && started.error().code != codes::kConflict)
          return void(r.respond(started.error()));
        auto view = return_view(ctx.engine, return_id, customer_id);
        Json body = view.ok() ? view.value()
                              : Json{{"return_id", return_id}, {"status", "awaiting_parcel"}};
        Response response = Response::json(body, StatusCode::accepted);
        response.header("Location", "/api/returns/" + return_id);
        r.respond(std::move(response));
      });
}

/// POST /api/orders/{id}/returns for a signed-in caller: {lines: [{isbn, quantity}]}.
void post_return(Context& ctx, const std::string& order_id, const Json& profile,
                 const Responder& r) {
  const Request& request = r.request();
  auto body = request.json_object();
  if (!body.ok())
    return void(r.respond(body.error()));
  http::JsonFields f(body.value());
  Json lines = read_return_lines(f);
  for (auto it = body.value().begin(); it != body.value().end(); ++it) {
    if (it.key() != "lines")
      f.add(it.key().size() <= 40 ? it.key() : std::string("field"), "is not a known field");
  }
  if (!f.ok())
    return void(r.respond(f.response(request.path())));
  if (!is_uuid(order_id))
    return void(r.respond(Error::of(codes::kNotFound, "no order '" + order_id + "'")));
  const std::string customer_id = profile.value("customer_id", "");
  const std::string return_id = return_id_for(customer_id, order_id, lines);
  // The customer service knows the order's lines, its age and earlier returns: 404, 400, 422
  // and 409 come from its check, before anything is started.
  ctx.call(customer::kService, customer::commands::kCheckReturn,
           Json{{"return_id", return_id},
                {"customer_id", customer_id},
                {"order_id", order_id},
                {"lines", lines}},
           [&ctx, r, profile, return_id, order_id](Result<Json> checked) {
             if (!checked.ok())
               return void(r.respond(checked.error()));
             start_return(ctx, profile, return_id, order_id, checked.value(), r);
           });
}

/// GET /api/returns/{id} for a signed-in caller.
void get_return(Context& ctx, const std::string& id, const Json& profile, const Responder& r) {
  auto view = return_view(ctx.engine, id, profile.value("customer_id", ""));
  if (!view.ok())
    return void(r.respond(view.error()));
  r.respond(Response::json(view.value()));
}

}  // namespace

void install_return_routes(Context& ctx, http::Router& router) {
  router.add_async(
      Method::post, "/api/orders/{id}/returns", [&ctx](const Request& req, const Responder& r) {
        std::string id(*req.param("id"));
        with_customer(ctx, req, r,
                      [&ctx, r, id](const Json& profile) { post_return(ctx, id, profile, r); });
      });
  router.add_async(
      Method::get, "/api/orders/{id}/returns", [&ctx](const Request& req, const Responder& r) {
        std::string id(*req.param("id"));
        with_customer(ctx, req, r, [&ctx, r, id](const Json& profile) {
          if (!is_uuid(id))
            return void(r.respond(Error::of(codes::kNotFound, "no order '" + id + "'")));
          ctx.call(customer::kService, customer::commands::kListReturns,
                   Json{{"customer_id", profile.value("customer_id", "")}, {"order_id", id}},
                   reply_with(r));
        });
      });
  router.add_async(
      Method::get, "/api/returns/{id}", [&ctx](const Request& req, const Responder& r) {
        std::string id(*req.param("id"));
        with_customer(ctx, req, r,
                      [&ctx, r, id](const Json& profile) { get_return(ctx, id, profile, r); });
      });
  router.add_async(Method::get, "/api/returns", [&ctx](const Request& req, const Responder& r) {
    with_customer(ctx, req, r, [&ctx, r](const Json& profile) {
      ctx.call(customer::kService, customer::commands::kListReturns,
               Json{{"customer_id", profile.value("customer_id", "")}}, reply_with(r));
    });
  });
}

}  // namespace wonderland::mediator
