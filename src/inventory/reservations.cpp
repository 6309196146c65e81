// Inventory's state changes: reserving stock for an order, confirming the sale, releasing it,
// and restocking the copies a customer sent back.
#include <utility>

#include "requests.hpp"
#include "tables.hpp"
#include "wonderland/inventory/inventory.hpp"
#include "wonderland/log/log.hpp"
#include "wonderland/sqlite/guarded.hpp"

namespace wonderland::inventory {
namespace {

using nlohmann::json;

Error released(const std::string& order_id) {
  return Error::of(codes::kFailedPrecondition,
                   "The reservation for order " + order_id + " was released");
}

}  // namespace

Result<nlohmann::json> Inventory::reserve(const nlohmann::json& body,
                                          const std::string& idempotency_key) {
  Result<ReserveRequest> request = read_reserve_request(body);
  if (!request.ok())
    return request.error();
  const std::string& order_id = request->order_id;

  return sqlite::guarded(tables::store(), "reserve", [&] {
    return state_change(idempotency_key, [&]() -> Result<json> {
      if (auto existing = tables::reservation(*db_, order_id)) {
        if (existing->status == "released")
          return released(order_id);
        return json(PricedItems{order_id, tables::reservation_lines(*db_, order_id)});
      }
      auto priced = tables::price(*db_, request->lines);
      if (!priced.ok())
        return priced.error();
      if (Result<Unit> taken = tables::take_stock(*db_, *priced); !taken.ok())
        return taken.error();  // rolled back
      const PricedItems reserved{order_id, std::move(priced.value())};
      tables::insert_reservation(*db_, order_id, reserved);
      log::info("order {}: reserved {} line(s), {} cents", order_id, reserved.items.size(),
                reserved.total_cents());
      return json(reserved);
    });
  });
}

Result<nlohmann::json> Inventory::confirm(const nlohmann::json& body,
                                          const std::string& idempotency_key) {
  Result<std::string> order_id = read_order_id(body);
  if (!order_id.ok())
    return order_id.error();

  return sqlite::guarded(tables::store(), "confirm", [&] {
    return state_change(idempotency_key, [&]() -> Result<json> {
      auto existing = tables::reservation(*db_, *order_id);
      if (!existing)
        return Error::of(codes::kNotFound, "No reservation for order " + *order_id);
      if (existing->status == "released")
        return released(*order_id);
      if (existing->status == "reserved") {
        tables::set_status(*db_, *order_id, StatusReply::kConfirmed);
        log::info("order {}: reservation confirmed", *order_id);
      }
      return json(StatusReply{*order_id, StatusReply::kConfirmed});
    });
  });
}

Result<nlohmann::json> Inventory::release(const nlohmann::json& body,
                                          const std::string& idempotency_key) {
  Result<std::string> order_id = read_order_id(body);
  if (!order_id.ok())
    return order_id.error();

  return sqlite::guarded(tables::store(), "release", [&] {
    return state_change(idempotency_key, [&]() -> Result<json> {
      auto existing = tables::reservation(*db_, *order_id);
      if (!existing) {
        // A tombstone: a reserve for this order that arrives after its compensation is refused.
        tables::insert_released(*db_, *order_id);
        log::info("order {}: released before any reservation", *order_id);
      } else if (existing->status != "released") {
        tables::give_back_stock(*db_, tables::reservation_lines(*db_, *order_id));
        tables::set_status(*db_, *order_id, StatusReply::kReleased);
        log::info("order {}: {} reservation released, stock restored", *order_id, existing->status);
      }
      return json(StatusReply{*order_id, StatusReply::kReleased});
    });
  });
}

Result<nlohmann::json> Inventory::restock(const nlohmann::json& body,
                                          const std::string& idempotency_key) {
  Result<RestockRequest> request = read_restock_request(body);
  if (!request.ok())
    return request.error();
  const RestockRequest& r = *request;

  return sqlite::guarded(tables::store(), "restock", [&] {
    return state_change(idempotency_key, [&]() -> Result<json> {
      std::optional<Book> b = tables::book(*db_, r.isbn);
      if (!b)
        return tables::not_found_isbn(r.isbn);
      if (auto done = tables::restocked(*db_, r.return_id, r.isbn))
        return json(RestockReply{r.return_id, r.isbn, *done, b->stock});
      tables::give_back_stock(*db_, {PricedLine{r.isbn, b->title, r.quantity, b->price_cents}});
      tables::insert_restock(*db_, r.return_id, r.isbn, r.quantity);
      log::info("return {}: {} cop(ies) of {} back in stock", r.return_id, r.quantity, r.isbn);
      return json(RestockReply{r.return_id, r.isbn, r.quantity, b->stock + r.quantity});
    });
  });
}

}  // namespace wonderland::inventory
