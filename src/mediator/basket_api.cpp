// The basket routes: the caller's basket with live prices and stock, and changing a line.
// The customer service keeps the lines; the inventory prices them.
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>

#include "routes.hpp"
#include "wonderland/customer/protocol.hpp"
#include "wonderland/http/fields.hpp"
#include "wonderland/inventory/protocol.hpp"

namespace wonderland::mediator {
namespace {

/// The priced basket of `lines` ([{isbn, quantity}]) from the inventory's `books` reply.
Json priced_lines(const Json& lines, const Json& books) {
  // Into the reply itself, which lives as long as this call.
  std::unordered_map<std::string, const Json*> by_isbn;
  if (auto found = books.find("items"); found != books.end() && found->is_array()) {
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
  return Json{{"items", std::move(items)}, {"total_cents", total}};
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
  ctx.call(inventory::kService, inventory::commands::kGetBooks, Json{{"isbns", std::move(isbns)}},
           [&ctx, lines, done = std::move(done)](Result<Json> books) {
             if (!books.ok())
               return done(books.error());
             ctx.catalogue->remember(books.value());
             done(priced_lines(lines, books.value()));
           });
}

/// Completes a basket change: prices the basket that the customer service answered with.
JsonCallback priced_basket_reply(Context& ctx, const Responder& r) {
  return [&ctx, r](Result<Json> basket) {
    if (!basket.ok())
      return void(r.respond(basket.error()));
    price_basket(ctx, basket.value().value("items", Json::array()), reply_with(r));
  };
}

/// PUT /api/basket/items/{isbn} for a signed-in caller: quantity 0 removes the line.
void set_basket_item(Context& ctx, const Json& profile, const Responder& r) {
  const Request& request = r.request();
  std::string isbn(*request.param("isbn"));
  auto body = request.json_object();
  if (!body.ok())
    return void(r.respond(body.error()));
  http::JsonFields f(body.value());
  auto quantity = f.required_integer("quantity", {0, 3});
  if (!valid_isbn(isbn))
    f.add("isbn", "must be an ISBN-13 (13 digits)");
  if (!f.ok())
    return void(r.respond(f.response(request.path())));
  std::string customer_id = profile.value("customer_id", "");
  // The customer service answers with the basket as it now is.
  auto set = [&ctx, r, isbn, quantity, customer_id] {
    ctx.call(customer::kService, customer::commands::kSetBasketItem,
             Json{{"customer_id", customer_id}, {"isbn", isbn}, {"quantity", quantity}},
             priced_basket_reply(ctx, r));
  };
  // Only books of the catalogue go into a basket.
  if (quantity == 0 || ctx.catalogue->known(isbn))
    return set();
  ctx.call(inventory::kService, inventory::commands::kGetBook, Json{{"isbn", isbn}},
           [&ctx, r, set](Result<Json> book) {
             if (!book.ok())
               return void(r.respond(book.error()));
             ctx.catalogue->remember(book.value());
             set();
           });
}

}  // namespace

void install_basket_routes(Context& ctx, http::Router& router) {
  router.add_async(Method::get, "/api/basket", [&ctx](const Request& req, const Responder& r) {
    with_customer(ctx, req, r, [&ctx, r](const Json& profile) {
      ctx.call(customer::kService, customer::commands::kGetBasket,
               Json{{"customer_id", profile.value("customer_id", "")}},
               priced_basket_reply(ctx, r));
    });
  });
  router.add_async(
      Method::put, "/api/basket/items/{isbn}", [&ctx](const Request& req, const Responder& r) {
        // Who asks comes first: an anonymous caller gets 401 whatever the body says.
        with_customer(ctx, req, r,
                      [&ctx, r](const Json& profile) { set_basket_item(ctx, profile, r); });
      });
  router.add_async(
      Method::delete_, "/api/basket/items/{isbn}", [&ctx](const Request& req, const Responder& r) {
        std::string isbn(*req.param("isbn"));
        with_customer(ctx, req, r, [&ctx, r, isbn](const Json& profile) {
          std::string customer_id = profile.value("customer_id", "");
          ctx.call(customer::kService, customer::commands::kRemoveBasketItem,
                   Json{{"customer_id", customer_id}, {"isbn", isbn}}, priced_basket_reply(ctx, r));
        });
      });
}

}  // namespace wonderland::mediator
