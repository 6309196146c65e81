// The account routes: signing up, signing in and out (sessions), the caller's profile and the
// emails sent to them. Sign-up and sign-in are throttled before the customer service sees them.
#include <atomic>
#include <string>
#include <utility>

#include "routes.hpp"
#include "wonderland/customer/protocol.hpp"
#include "wonderland/http/fields.hpp"
#include "wonderland/notification/protocol.hpp"

namespace wonderland::mediator {
namespace {

/// Usernames are case-insensitive (the customer service compares them folded).
std::string fold_case(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

void sign_up(Context& ctx, const Request& req, const Responder& r) {
  auto body = req.json_object();
  if (!body.ok())
    return void(r.respond(body.error()));
  http::JsonFields f(body.value());
  f.required_string("username", {1, 200});
  f.required_string("email", {1, 320});
  f.required_string("password", {1, 1024});
  f.required_string("first_name", {1, 200});
  f.required_string("last_name", {1, 200});
  f.optional_string("phone", {0, 50});
  if (auto address = body.value().find("address");
      address != body.value().end() && !address->is_null() && !address->is_object()) {
    f.add("address", "must be an object");
  }
  if (!f.ok())
    return void(r.respond(f.response(req.path())));
  Throttles& t = *ctx.throttles;
  if (Verdict v = t.sign_up->acquire(t.client_address(req)); !v.allowed) {
    t.refused_sign_up.fetch_add(1, std::memory_order_relaxed);
    return void(
        r.respond(too_many(v, "too many sign-ups from this address; try again later", req.path())));
  }
  ctx.call(customer::kService, customer::commands::kSignUp, body.value(),
           [r](Result<Json> profile) {
             if (!profile.ok())
               return void(r.respond(profile.error()));
             r.respond(Response::created("/api/me", profile.value()));
           });
}

/// Whether a sign-in may go ahead: per client address, then per username. Each admitted attempt
/// counts as a failure until its answer says otherwise. Answers 429 and returns false otherwise.
bool admit_sign_in(Throttles& t, const std::string& address, const std::string& user,
                   const Request& req, const Responder& r) {
  if (Verdict v = t.sign_in_address->attempt(address); !v.allowed) {
    t.refused_sign_in.fetch_add(1, std::memory_order_relaxed);
    r.respond(
        too_many(v, "too many failed sign-ins from this address; try again later", req.path()));
    return false;
  }
  if (Verdict v = t.sign_in_user->attempt(user); !v.allowed) {
    t.sign_in_address->forgive(address);
    t.refused_sign_in.fetch_add(1, std::memory_order_relaxed);
    r.respond(
        too_many(v, "too many failed sign-ins for this username; try again later", req.path()));
    return false;
  }
  return true;
}

void sign_in(Context& ctx, const Request& req, const Responder& r) {
  auto body = req.json_object();
  if (!body.ok())
    return void(r.respond(body.error()));
  http::JsonFields f(body.value());
  auto username = f.required_string("username", {1, 200});
  auto password = f.required_string("password", {1, 1024});
  if (!f.ok())
    return void(r.respond(f.response(req.path())));
  // Throttled before the customer service spends a password hash on it.
  const std::string address = ctx.throttles->client_address(req);
  const std::string user = fold_case(username);
  if (!admit_sign_in(*ctx.throttles, address, user, req, r))
    return;
  ctx.call(customer::kService, customer::commands::kSignIn,
           Json{{"username", username}, {"password", password}},
           [r, throttles = ctx.throttles, address, user](Result<Json> session) {
             if (session.ok()) {
               throttles->sign_in_user->reset(user);
               throttles->sign_in_address->forgive(address);
             } else if (session.error().code != codes::kUnauthenticated) {
               // Not a wrong password (the service failed, say): it does not count.
               throttles->sign_in_user->forgive(user);
               throttles->sign_in_address->forgive(address);
             }
             if (!session.ok())
               return void(r.respond(session.error()));
             Json out{{"token", session.value().value("token", "")},
                      {"expires_at", session.value().value("expires_at", "")},
                      {"customer_id", session.value().value("customer_id", "")}};
             r.respond(Response::created("/api/sessions/current", out));
           });
}

void sign_out(Context& ctx, const Request& req, const Responder& r) {
  auto token = req.bearer_token();
  if (!token || token->empty()) {
    return void(r.respond(Error::of(codes::kUnauthenticated, "no session to end")));
  }
  std::string t(*token);
  ctx.auth_cache.evict(t);
  ctx.call(customer::kService, customer::commands::kSignOut, Json{{"token", t}},
           [r](const Result<Json>& out) {
             if (!out.ok())
               return void(r.respond(out.error()));
             r.respond(Response::no_content());
           });
}

}  // namespace

void install_account_routes(Context& ctx, http::Router& router) {
  router.add_async(Method::post, "/api/customers",
                   [&ctx](const Request& req, const Responder& r) { sign_up(ctx, req, r); });
  router.add_async(Method::post, "/api/sessions",
                   [&ctx](const Request& req, const Responder& r) { sign_in(ctx, req, r); });
  router.add_async(Method::delete_, "/api/sessions/current",
                   [&ctx](const Request& req, const Responder& r) { sign_out(ctx, req, r); });
  router.add_async(Method::get, "/api/me", [&ctx](const Request& req, const Responder& r) {
    with_customer(ctx, req, r, [r](const Json& profile) { r.respond(Response::json(profile)); });
  });
  router.add_async(
      Method::get, "/api/me/notifications", [&ctx](const Request& req, const Responder& r) {
        with_customer(ctx, req, r, [&ctx, r](const Json& profile) {
          ctx.call(notification::kService, notification::commands::kList,
                   Json{{"customer_id", profile.value("customer_id", "")}}, reply_with(r));
        });
      });
}

}  // namespace wonderland::mediator
