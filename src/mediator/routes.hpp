// The mediator's HTTP routes by group, one group per file, and what their handlers share.
// install_public_api (public_api.cpp) and install_ops_api (ops_api.cpp) install every group.
#pragma once

#include <functional>
#include <string>

#include "context.hpp"
#include "wonderland/http/response.hpp"
#include "wonderland/http/router.hpp"
#include "wonderland/mediator/throttle.hpp"

namespace wonderland::mediator {

// The HTTP names every route file uses.
using http::Method;
using http::Request;
using http::Responder;
using http::Response;
using http::StatusCode;

// Customer-facing groups (docs/openapi.json).

/// GET /api/openapi.json, GET /api/books, GET /api/books/{isbn} (catalogue_api.cpp).
void install_catalogue_routes(Context& ctx, http::Router& router);
/// POST /api/customers, POST and DELETE /api/sessions, GET /api/me and its notifications
/// (account_api.cpp).
void install_account_routes(Context& ctx, http::Router& router);
/// GET /api/basket, PUT and DELETE /api/basket/items/{isbn} (basket_api.cpp).
void install_basket_routes(Context& ctx, http::Router& router);
/// POST /api/orders, GET /api/orders/{id}, GET /api/orders (order_api.cpp).
void install_order_routes(Context& ctx, http::Router& router);
/// POST and GET /api/orders/{id}/returns, GET /api/returns/{id}, GET /api/returns
/// (return_api.cpp).
void install_return_routes(Context& ctx, http::Router& router);

// Operator groups: every route but /healthz and /readyz needs the admin token.

/// GET, POST /api/workflows, GET /api/workflows/{id}, POST .../retry and .../cancel
/// (workflow_api.cpp).
void install_workflow_routes(Context& ctx, http::Router& router);
/// POST and GET /api/workflows/bulk, GET /api/workflows/bulk/{job_id} (bulk_api.cpp).
void install_bulk_routes(Context& ctx, http::Router& router);
/// GET /api/definitions, GET /api/definitions/{name}/{version} (definition_api.cpp).
void install_definition_routes(Context& ctx, http::Router& router);
/// GET /api/logs, /api/logs/stream, /metrics, /api/metrics (monitoring_api.cpp).
void install_monitoring_routes(Context& ctx, http::Router& router);

// What the handlers share (routes.cpp).

/// Completes with the JSON result, or with its error as a problem.
JsonCallback reply_with(const http::Responder& r, http::StatusCode status = http::StatusCode::ok);
/// Runs `next` with the caller's profile, or answers 401.
void with_customer(Context& ctx, const http::Request& req, const http::Responder& r,
                   std::function<void(const Json& profile)> next);
/// A 429 for a refused attempt, with Retry-After (whole seconds, rounded up).
http::Response too_many(const Verdict& verdict, std::string detail, const std::string& path);
/// Whether `isbn` is an ISBN-13 (13 digits).
bool valid_isbn(std::string_view isbn);
/// Wraps a handler so that it runs only for operators.
http::AsyncHandler admin(Context& ctx, http::AsyncHandler inner);

}  // namespace wonderland::mediator
