// The customer-facing REST API (docs/openapi.json, also served at /api/openapi.json). Every
// handler is asynchronous: it asks a service over RPC and completes the request from the reply.
#include <sodium.h>

#include <cctype>
#include <cstdint>
#include <unordered_map>

#include "context.hpp"
#include "wonderland/customer/protocol.hpp"
#include "wonderland/http/fields.hpp"
#include "wonderland/http/problem.hpp"
#include "wonderland/inventory/protocol.hpp"
#include "wonderland/mediator/orders.hpp"
#include "wonderland/notification/protocol.hpp"
#include "wonderland/payment/protocol.hpp"

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

/// A 429 for a refused attempt, with Retry-After (whole seconds, rounded up).
Response too_many(const Verdict& verdict, std::string detail, const std::string& path) {
  http::Problem p = http::Problem::of(Status::too_many_requests, std::move(detail),
                                      std::string(codes::kResourceExhausted));
  p.retryable = true;
  p.instance = path;
  p.retry_after = http::Problem::seconds_ceil(verdict.retry_after);
  return Response::problem(p);
}

/// Usernames are case-insensitive (the customer service compares them folded).
std::string fold_case(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

/// Order placement per customer: answers 429 and returns true when the customer is over the rate.
bool order_throttled(Context& ctx, const Json& profile, const Responder& r) {
  const std::string customer_id = profile.value("customer_id", "");
  Verdict v = ctx.throttles->orders->acquire(customer_id);
  if (v.allowed) return false;
  ctx.throttles->refused_orders.fetch_add(1, std::memory_order_relaxed);
  r.respond(too_many(v, "too many orders placed in a short time; try again later",
                     r.request().path()));
  return true;
}

bool valid_isbn(std::string_view isbn) {
  if (isbn.size() != 13) return false;
  for (char c : isbn) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

/// The basket's lines (`customer.*` replies: [{isbn, quantity}]) with live prices and stock
/// from the catalogue, in one `inventory.get_books`: {items:[{isbn, title, author, quantity,
/// unit_price_cents, line_total_cents, stock, available}], total_cents}. A title that ran out of
/// stock still shows, marked unavailable, instead of making the whole basket unreadable; titles
/// no longer in the catalogue are left out.
void price_basket(Context& ctx, const Json& lines, JsonCallback done) {
  Json isbns = Json::array();
  if (lines.is_array()) {
    for (const Json& line : lines)
      isbns.push_back(line.value("isbn", ""));
  }
  if (isbns.empty())
    return done(Json{{"items", Json::array()}, {"total_cents", 0}});
  ctx.call("inventory", inventory::commands::kGetBooks, Json{{"isbns", std::move(isbns)}},
           [&ctx, lines, done = std::move(done)](Result<Json> books) {
             if (!books.ok())
               return done(books.error());
             ctx.catalogue->remember(books.value());
             // Into the reply itself, which lives until this callback returns.
             std::unordered_map<std::string, const Json*> by_isbn;
             if (auto found = books.value().find("items");
                 found != books.value().end() && found->is_array()) {
               for (const Json& b : *found)
                 by_isbn.emplace(b.value("isbn", ""), &b);
             }
             Json items = Json::array();
             std::int64_t total = 0;
             for (const Json& line : lines) {
               const std::string isbn = line.value("isbn", "");
               auto found = by_isbn.find(isbn);
               if (found == by_isbn.end())
                 continue;
               const Json& b = *found->second;
               const std::int64_t quantity = line.value("quantity", std::int64_t{0});
               const std::int64_t price = b.value("price_cents", std::int64_t{0});
               const std::int64_t stock = b.value("stock", std::int64_t{0});
               total += price * quantity;
               items.push_back(Json{{"isbn", isbn},
                                    {"title", b.value("title", "")},
                                    {"author", b.value("author", "")},
                                    {"quantity", quantity},
                                    {"unit_price_cents", price},
                                    {"line_total_cents", price * quantity},
                                    {"stock", stock},
                                    {"available", stock >= quantity}});
             }
             done(Json{{"items", std::move(items)}, {"total_cents", total}});
           });
}

/// Completes a basket change: prices the basket that the customer service answered with.
JsonCallback priced_basket_reply(Context& ctx, Responder r) {
  return [&ctx, r](Result<Json> basket) {
    if (!basket.ok())
      return void(r.respond(basket.error()));
    price_basket(ctx, basket.value().value("items", Json::array()), reply_with(r));
  };
}

/// Answers from the catalogue cache, or asks the inventory and keeps the answer.
void cached_catalogue_call(Context& ctx, Responder r, const std::string& key,
                           const std::string& type, Json body) {
  auto respond = [r](std::string json_text) {
    Response response = Response::text(std::move(json_text), "application/json");
    response.cache_control("no-store");
    r.respond(std::move(response));
  };
  if (auto hit = ctx.catalogue->find(key))
    return respond(std::move(*hit));
  const std::uint64_t generation = ctx.catalogue->generation();
  ctx.call("inventory", type, std::move(body),
           [&ctx, r, key, generation, respond](Result<Json> reply) {
             if (!reply.ok())
               return void(r.respond(reply.error()));
             ctx.catalogue->remember(reply.value());
             std::string text = reply.value().dump(-1, ' ', false, Json::error_handler_t::replace);
             ctx.catalogue->put(key, text, generation);
             respond(std::move(text));
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
    std::string key = "list " + body.dump();
    cached_catalogue_call(ctx, r, key, inventory::commands::kListBooks, std::move(body));
  });

  router.add_async(Method::get, "/api/books/{isbn}", [&ctx](const Request& req, Responder r) {
    std::string isbn(*req.param("isbn"));
    if (!valid_isbn(isbn)) {
      return void(r.respond(Error{codes::kNotFound, "no book has ISBN '" + isbn + "'", false}));
    }
    cached_catalogue_call(ctx, r, "book " + isbn, inventory::commands::kGetBook,
                          Json{{"isbn", isbn}});
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
    Throttles& t = *ctx.throttles;
    if (Verdict v = t.sign_up->acquire(t.client_address(req)); !v.allowed) {
      t.refused_sign_up.fetch_add(1, std::memory_order_relaxed);
      return void(r.respond(
          too_many(v, "too many sign-ups from this address; try again later", req.path())));
    }
    ctx.call("customer", customer::commands::kSignUp, body.value(), [r](Result<Json> profile) {
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
    // Throttled before the customer service spends a password hash on it: per client address,
    // then per username. Each admitted attempt counts as a failure until its answer says
    // otherwise.
    Throttles& t = *ctx.throttles;
    const std::string address = t.client_address(req);
    const std::string user = fold_case(username);
    if (Verdict v = t.sign_in_address->attempt(address); !v.allowed) {
      t.refused_sign_in.fetch_add(1, std::memory_order_relaxed);
      return void(r.respond(
          too_many(v, "too many failed sign-ins from this address; try again later", req.path())));
    }
    if (Verdict v = t.sign_in_user->attempt(user); !v.allowed) {
      t.sign_in_address->forgive(address);
      t.refused_sign_in.fetch_add(1, std::memory_order_relaxed);
      return void(r.respond(
          too_many(v, "too many failed sign-ins for this username; try again later", req.path())));
    }
    ctx.call("customer", customer::commands::kSignIn,
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
    ctx.call("customer", customer::commands::kSignOut, Json{{"token", t}}, [r](Result<Json> out) {
      if (!out.ok()) return void(r.respond(out.error()));
      r.respond(Response::no_content());
    });
  });

  router.add_async(Method::get, "/api/me", [&ctx](const Request& req, Responder r) {
    with_customer(ctx, req, r, [r](const Json& profile) { r.respond(Response::json(profile)); });
  });

  router.add_async(Method::get, "/api/me/notifications", [&ctx](const Request& req, Responder r) {
    with_customer(ctx, req, r, [&ctx, r](const Json& profile) {
      ctx.call("notification", notification::commands::kList,
               Json{{"customer_id", profile.value("customer_id", "")}}, reply_with(r));
    });
  });

  router.add_async(Method::get, "/api/basket", [&ctx](const Request& req, Responder r) {
    with_customer(ctx, req, r, [&ctx, r](const Json& profile) {
      ctx.call("customer", customer::commands::kGetBasket,
               Json{{"customer_id", profile.value("customer_id", "")}},
               priced_basket_reply(ctx, r));
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
      // The customer service answers with the basket as it now is.
      auto set = [&ctx, r, isbn, quantity, customer_id] {
        ctx.call("customer", customer::commands::kSetBasketItem,
                 Json{{"customer_id", customer_id}, {"isbn", isbn}, {"quantity", quantity}},
                 priced_basket_reply(ctx, r));
      };
      // Only books of the catalogue go into a basket.
      if (quantity == 0 || ctx.catalogue->known(isbn))
        return set();
      ctx.call("inventory", inventory::commands::kGetBook, Json{{"isbn", isbn}},
               [&ctx, r, set](Result<Json> book) {
                 if (!book.ok())
                   return void(r.respond(book.error()));
                 ctx.catalogue->remember(book.value());
                 set();
               });
    });
  });

  router.add_async(Method::delete_, "/api/basket/items/{isbn}", [&ctx](const Request& req, Responder r) {
    std::string isbn(*req.param("isbn"));
    with_customer(ctx, req, r, [&ctx, r, isbn](const Json& profile) {
      std::string customer_id = profile.value("customer_id", "");
      ctx.call("customer", customer::commands::kRemoveBasketItem,
               Json{{"customer_id", customer_id}, {"isbn", isbn}}, priced_basket_reply(ctx, r));
    });
  });

  router.add_async(Method::post, "/api/orders", [&ctx](const Request& req, Responder r) {
    with_customer(ctx, req, r, [&ctx, r](const Json& profile) {
      if (order_throttled(ctx, profile, r)) return;
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
        for (auto it = payment.begin(); it != payment.end(); ++it) {
          const std::string& k = it.key();
          if (k == "method" || k == "card_number" || k == "expiry" || k == "cvv" || k == "paypal_email") continue;
          // The key is named back only when short and plain, so that hostile input is not echoed.
          bool plain = !k.empty() && k.size() <= 40;
          for (char c : k) plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-');
          f.add(plain ? "payment." + k : std::string("payment"), plain ? "is not a known field" : "has an unknown field");
        }
      }
      if (!key || key->empty() || key->size() > 200) {
        f.add("Idempotency-Key", "header is required (1-200 characters), e.g. a UUID per checkout");
      }
      if (!f.ok()) return void(r.respond(f.response(request.path())));
      std::string idempotency_key(*key);
      // The card data goes to the payment service only; the workflow keeps its token, the
      // masked number and a keyed fingerprint of the request.
      std::string request_hash = order_fingerprint(*ctx.config.fingerprint_key, payment);
      ctx.call("payment", payment::commands::kTokenize,
               Json{{"customer_id", profile.value("customer_id", "")}, {"payment", std::move(payment)}},
               [&ctx, r, request_hash, idempotency_key, profile](Result<Json> tokenized) {
                 if (!tokenized.ok()) return void(r.respond(tokenized.error()));
                 const Json& t = tokenized.value();
                 Json kept{{"token", t.value("payment_token", "")},
                           {"method", t.value("method", "")},
                           {"masked", t.value("masked", "")}};
                 if (t.contains("brand")) kept["brand"] = t["brand"];
                 if (t.contains("last4")) kept["last4"] = t["last4"];
                 place_order(ctx, profile, kept, request_hash, idempotency_key, r);
               });
    });
  });

  // ?wait_ms=N (up to 30 s) makes it a long poll: a pending order is answered once it is
  // confirmed or failed, or after N ms with its status then.
  router.add_async(Method::get, "/api/orders/{id}", [&ctx](const Request& req, Responder r) {
    std::string id(*req.param("id"));
    with_customer(ctx, req, r, [&ctx, r, id](const Json& profile) {
      http::QueryFields q(r.request());
      const auto wait_ms = q.optional_integer("wait_ms", {0, 30000}).value_or(0);
      if (!q.ok())
        return void(r.respond(q.response(r.request().path())));
      std::string customer_id = profile.value("customer_id", "");
      auto order = order_view(ctx.engine, id, customer_id);
      if (!order.ok())
        return void(r.respond(order.error()));
      if (wait_ms == 0 || order.value().value("status", "") != "pending") {
        return void(r.respond(Response::json(order.value())));
      }
      ctx.waiters->wait(id, std::chrono::milliseconds(wait_ms), [&ctx, r, id, customer_id] {
        auto now = order_view(ctx.engine, id, customer_id);
        if (!now.ok())
          return void(r.respond(now.error()));
        r.respond(Response::json(now.value()));
      });
      // It may have settled between the look above and the registration.
      auto summary = ctx.engine.find(id);
      if (summary.ok() && summary.value() &&
          summary.value()->status != workflow::WorkflowStatus::kRunning) {
        ctx.waiters->settle_now(id);
      }
    });
  });

  router.add_async(Method::get, "/api/orders", [&ctx](const Request& req, Responder r) {
    with_customer(ctx, req, r, [&ctx, r](const Json& profile) {
      ctx.call("customer", customer::commands::kListOrders,
               Json{{"customer_id", profile.value("customer_id", "")}}, reply_with(r));
    });
  });
}

}  // namespace wonderland::mediator
