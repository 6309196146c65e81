// The customer-facing REST API (docs/openapi.json, also served at /api/openapi.json). Every
// handler is asynchronous: it asks a service over RPC and completes the request from the reply.
#include <sodium.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "context.hpp"
#include "wonderland/http/fields.hpp"
#include "wonderland/http/problem.hpp"
#include "wonderland/mediator/orders.hpp"

namespace wonderland::mediator {
namespace {

using http::Method;
using http::Request;
using http::Responder;
using http::Response;
using http::Status;

/// Completes with the JSON result, or with its error as a problem.
JsonCallback reply_with(Responder r, Status status = Status::ok) {
  return [r, status](Result<Json> result) {
    if (result.ok()) {
      r.respond(Response::json(result.value(), status));
    } else {
      r.respond(result.error());
    }
  };
}

/// Runs `next` with the caller's profile, or answers 401.
void with_customer(Context& ctx, const Request& req, Responder r,
                   std::function<void(const Json& profile)> next) {
  ctx.authenticate(req, [r, next = std::move(next)](Result<Json> profile) {
    if (!profile.ok()) {
      Error e = profile.error();
      if (e.code == codes::kNotFound) e = Error{codes::kUnauthenticated, e.message, false};
      r.respond(e);
      return;
    }
    next(profile.value());
  });
}

bool valid_isbn(std::string_view isbn) {
  if (isbn.size() != 13) return false;
  for (char c : isbn) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

/// The basket with prices from the catalogue: {items:[{isbn, title, author, quantity,
/// unit_price_cents, line_total_cents, stock, available}], total_cents}. Each line is looked up
/// on its own (inventory.get_book), so that a title that ran out of stock still shows, marked
/// unavailable, instead of making the whole basket unreadable; titles no longer in the catalogue
/// are left out.
void basket_view(Context& ctx, const std::string& customer_id, JsonCallback done) {
  ctx.call("customer", "customer.get_basket", Json{{"customer_id", customer_id}},
           [&ctx, done = std::move(done)](Result<Json> basket) mutable {
             if (!basket.ok()) return done(basket.error());
             Json items = basket.value().value("items", Json::array());
             if (!items.is_array() || items.empty()) {
               return done(Json{{"items", Json::array()}, {"total_cents", 0}});
             }
             struct Gather {
               std::mutex mu;
               std::vector<std::optional<Json>> lines;
               std::optional<Error> error;
               std::size_t pending = 0;
               JsonCallback done;
             };
             auto g = std::make_shared<Gather>();
             g->lines.resize(items.size());
             g->pending = items.size();
             g->done = std::move(done);
             for (std::size_t i = 0; i < items.size(); ++i) {
               const Json item = items[i];
               const std::string isbn = item.value("isbn", "");
               const std::int64_t quantity = item.value("quantity", std::int64_t{0});
               ctx.call("inventory", "inventory.get_book", Json{{"isbn", isbn}},
                        [g, i, isbn, quantity](Result<Json> book) {
                          std::unique_lock lock(g->mu);
                          if (book.ok()) {
                            const Json& b = book.value();
                            std::int64_t price = b.value("price_cents", std::int64_t{0});
                            std::int64_t stock = b.value("stock", std::int64_t{0});
                            g->lines[i] = Json{{"isbn", isbn},
                                               {"title", b.value("title", "")},
                                               {"author", b.value("author", "")},
                                               {"quantity", quantity},
                                               {"unit_price_cents", price},
                                               {"line_total_cents", price * quantity},
                                               {"stock", stock},
                                               {"available", stock >= quantity}};
                          } else if (book.error().code != codes::kNotFound && !g->error) {
                            g->error = book.error();
                          }
                          if (--g->pending != 0) return;
                          JsonCallback finish = std::move(g->done);
                          std::optional<Error> error = g->error;
                          Json out_items = Json::array();
                          std::int64_t total = 0;
                          for (auto& line : g->lines) {
                            if (!line) continue;
                            total += (*line)["line_total_cents"].get<std::int64_t>();
                            out_items.push_back(std::move(*line));
                          }
                          lock.unlock();
                          if (error) return finish(*error);
                          finish(Json{{"items", std::move(out_items)}, {"total_cents", total}});
                        });
             }
           });
}

}  // namespace

std::string hex_sha256(std::string_view text) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : digest) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string order_id_for(const std::string& customer_id, const std::string& idempotency_key) {
  // A name-based UUID (RFC 4122 layout, SHA-256 based): the same customer and key always name
  // the same order, which makes POST /api/orders idempotent across retries and mediators.
  std::string h = hex_sha256(customer_id + "\n" + idempotency_key);
  h[12] = '8';  // version 8: custom, name-based
  const char variant[] = "89ab";
  h[16] = variant[(h[16] >= 'a' ? h[16] - 'a' + 10 : h[16] - '0') & 3];
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20, 12);
}

void install_public_api(Context& ctx, http::Router& router) {
  router.add(Method::get, "/api/openapi.json", [](const Request&) {
    Response response = Response::text(std::string(openapi_document()), "application/json");
    response.cache_control("no-cache");
    return response;
  });

  router.add_async(Method::get, "/api/books", [&ctx](const Request& req, Responder r) {
    http::QueryFields q(req);
    auto text = q.optional_string("q", {0, 200});
    auto page = q.optional_integer("page", {1, 1000000});
    auto size = q.optional_integer("page_size", {1, 100});
    if (!q.ok()) return void(r.respond(q.response(req.path())));
    Json body{{"page", page.value_or(1)}, {"page_size", size.value_or(20)}};
    if (text && !text->empty()) body["q"] = *text;
    ctx.call("inventory", "inventory.list_books", std::move(body), reply_with(r));
  });

  router.add_async(Method::get, "/api/books/{isbn}", [&ctx](const Request& req, Responder r) {
    std::string isbn(*req.param("isbn"));
    if (!valid_isbn(isbn)) {
      return void(r.respond(Error{codes::kNotFound, "no book has ISBN '" + isbn + "'", false}));
    }
    ctx.call("inventory", "inventory.get_book", Json{{"isbn", isbn}}, reply_with(r));
  });

  router.add_async(Method::post, "/api/customers", [&ctx](const Request& req, Responder r) {
    auto body = req.json_object();
    if (!body.ok()) return void(r.respond(body.error()));
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
    if (!f.ok()) return void(r.respond(f.response(req.path())));
    ctx.call("customer", "customer.sign_up", body.value(), [r](Result<Json> profile) {
      if (!profile.ok()) return void(r.respond(profile.error()));
      r.respond(Response::created("/api/me", profile.value()));
    });
  });

  router.add_async(Method::post, "/api/sessions", [&ctx](const Request& req, Responder r) {
    auto body = req.json_object();
    if (!body.ok()) return void(r.respond(body.error()));
    http::JsonFields f(body.value());
    auto username = f.required_string("username", {1, 200});
    auto password = f.required_string("password", {1, 1024});
    if (!f.ok()) return void(r.respond(f.response(req.path())));
    ctx.call("customer", "customer.sign_in", Json{{"username", username}, {"password", password}},
             [r](Result<Json> session) {
               if (!session.ok()) return void(r.respond(session.error()));
               Json out{{"token", session.value().value("token", "")},
                        {"expires_at", session.value().value("expires_at", "")},
                        {"customer_id", session.value().value("customer_id", "")}};
               r.respond(Response::created("/api/sessions/current", out));
             });
  });

  router.add_async(Method::delete_, "/api/sessions/current", [&ctx](const Request& req, Responder r) {
    auto token = req.bearer_token();
    if (!token || token->empty()) {
      return void(r.respond(Error{codes::kUnauthenticated, "no session to end", false}));
    }
    std::string t(*token);
    ctx.auth_cache.evict(t);
    ctx.call("customer", "customer.sign_out", Json{{"token", t}}, [r](Result<Json> out) {
      if (!out.ok()) return void(r.respond(out.error()));
      r.respond(Response::no_content());
    });
  });

  router.add_async(Method::get, "/api/me", [&ctx](const Request& req, Responder r) {
    with_customer(ctx, req, r, [r](const Json& profile) { r.respond(Response::json(profile)); });
  });

  router.add_async(Method::get, "/api/me/notifications", [&ctx](const Request& req, Responder r) {
    with_customer(ctx, req, r, [&ctx, r](const Json& profile) {
      ctx.call("notification", "notification.list",
               Json{{"customer_id", profile.value("customer_id", "")}}, reply_with(r));
    });
  });

  router.add_async(Method::get, "/api/basket", [&ctx](const Request& req, Responder r) {
    with_customer(ctx, req, r, [&ctx, r](const Json& profile) {
      basket_view(ctx, profile.value("customer_id", ""), reply_with(r));
    });
  });

  router.add_async(Method::put, "/api/basket/items/{isbn}", [&ctx](const Request& req, Responder r) {
    // Who asks comes first: an anonymous caller gets 401 whatever the body says.
    with_customer(ctx, req, r, [&ctx, r](const Json& profile) {
      const Request& request = r.request();
      std::string isbn(*request.param("isbn"));
      auto body = request.json_object();
      if (!body.ok()) return void(r.respond(body.error()));
      http::JsonFields f(body.value());
      auto quantity = f.required_integer("quantity", {0, 3});
      if (!valid_isbn(isbn)) f.add("isbn", "must be an ISBN-13 (13 digits)");
      if (!f.ok()) return void(r.respond(f.response(request.path())));
      std::string customer_id = profile.value("customer_id", "");
      auto set = [&ctx, r, isbn, quantity, customer_id] {
        ctx.call("customer", "customer.set_basket_item",
                 Json{{"customer_id", customer_id}, {"isbn", isbn}, {"quantity", quantity}},
                 [&ctx, r, customer_id](Result<Json> out) {
                   if (!out.ok()) return void(r.respond(out.error()));
                   basket_view(ctx, customer_id, reply_with(r));
                 });
      };
      if (quantity == 0) return set();
      // Only books of the catalogue go into a basket.
      ctx.call("inventory", "inventory.get_book", Json{{"isbn", isbn}}, [r, set](Result<Json> book) {
        if (!book.ok()) return void(r.respond(book.error()));
        set();
      });
    });
  });

  router.add_async(Method::delete_, "/api/basket/items/{isbn}", [&ctx](const Request& req, Responder r) {
    std::string isbn(*req.param("isbn"));
    with_customer(ctx, req, r, [&ctx, r, isbn](const Json& profile) {
      std::string customer_id = profile.value("customer_id", "");
      ctx.call("customer", "customer.remove_basket_item",
               Json{{"customer_id", customer_id}, {"isbn", isbn}},
               [&ctx, r, customer_id](Result<Json> out) {
                 if (!out.ok()) return void(r.respond(out.error()));
                 basket_view(ctx, customer_id, reply_with(r));
               });
    });
  });

  router.add_async(Method::post, "/api/orders", [&ctx](const Request& req, Responder r) {
    with_customer(ctx, req, r, [&ctx, r](const Json& profile) {
      const Request& request = r.request();
      auto key = request.header("Idempotency-Key");
      auto body = request.json_object();
      if (!body.ok()) return void(r.respond(body.error()));
      http::JsonFields f(body.value());
      Json payment = f.required_object("payment");
      if (payment.is_object()) {
        http::JsonFields p(payment);
        p.required_string("method", {1, 20});
        p.optional_string("card_number", {0, 40});
        p.optional_string("expiry", {0, 10});
        p.optional_string("cvv", {0, 10});
        p.optional_string("paypal_email", {0, 320});
        for (const auto& e : p.errors()) f.add("payment." + e.field, e.message);
      }
      if (!key || key->empty() || key->size() > 200) {
        f.add("Idempotency-Key", "header is required (1-200 characters), e.g. a UUID per checkout");
      }
      if (!f.ok()) return void(r.respond(f.response(request.path())));
      std::string idempotency_key(*key);
      ctx.call("payment", "payment.validate", Json{{"payment", payment}},
               [&ctx, r, payment, idempotency_key, profile](Result<Json> valid) {
                 if (!valid.ok()) return void(r.respond(valid.error()));
                 place_order(ctx, profile, payment, idempotency_key, r);
               });
    });
  });

  router.add_async(Method::get, "/api/orders/{id}", [&ctx](const Request& req, Responder r) {
    std::string id(*req.param("id"));
    with_customer(ctx, req, r, [&ctx, r, id](const Json& profile) {
      auto order = order_view(ctx.engine, id, profile.value("customer_id", ""));
      if (!order.ok()) return void(r.respond(order.error()));
      r.respond(Response::json(order.value()));
    });
  });

  router.add_async(Method::get, "/api/orders", [&ctx](const Request& req, Responder r) {
    with_customer(ctx, req, r, [&ctx, r](const Json& profile) {
      ctx.call("customer", "customer.list_orders",
               Json{{"customer_id", profile.value("customer_id", "")}}, reply_with(r));
    });
  });
}

}  // namespace wonderland::mediator
