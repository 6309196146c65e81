// The customer-facing REST API (docs/openapi.json, also served at /api/openapi.json). Every
// handler is asynchronous: it asks a service over RPC and completes the request from the reply.
// Each route group lives in its own file (routes.hpp).
#include "routes.hpp"

namespace wonderland::mediator {

void install_public_api(Context& ctx, http::Router& router) {
  install_catalogue_routes(ctx, router);
  install_account_routes(ctx, router);
  install_basket_routes(ctx, router);
  install_order_routes(ctx, router);
  install_return_routes(ctx, router);
}

}  // namespace wonderland::mediator
