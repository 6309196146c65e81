// What the inventory service speaks on the broker (docs/commands.md, section "inventory"), for
// the service and for its callers; header-only (target wonderland::inventory_protocol), so a
// caller does not link the service.
//
// Commands: RPC on the durable queue `inventory.commands` (`<prefix>inventory.commands` for a
// named system), envelope type = the command:
//   * `inventory.list_books` {q?, page=1, page_size=20} -> {items:[Book], page, page_size, total}
//   * `inventory.get_book` {isbn} -> Book
//   * `inventory.get_books` {isbns:[isbn]} -> {items:[Book]}
//   * `inventory.price` {items:[{isbn, quantity}]} -> PricedItems
//   * `inventory.reserve` {order_id, items:[{isbn, quantity}]} -> PricedItems with order_id
//   * `inventory.confirm` {order_id} -> StatusReply "confirmed"
//   * `inventory.release` {order_id} -> StatusReply "released"
//   * `inventory.restock` {return_id, isbn, quantity} -> RestockReply (returned copies back in
//     stock, once per return and isbn)
// Book is {isbn, title, author, publisher, price_cents, stock} (catalogue.hpp). Errors are Error
// values; invalid_argument names the wrong fields (`order_id`, `return_id`, `quantity`, `items`,
// `items[i].isbn`, `items[i].quantity`, `isbn`, `isbns`, `isbns[i]`, `q`, `page`, `page_size`).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "wonderland/messaging/names.hpp"

namespace wonderland::inventory {

/// The service's name: in workflow definitions (`"service": "inventory"`) and in its queue's
/// name.
inline constexpr const char* kService = "inventory";
/// The command queue.
inline const messaging::QueueName kCommandQueue{"inventory.commands"};

/// The command names (envelope types of the requests).
namespace commands {
inline constexpr const char* kListBooks = "inventory.list_books";
inline constexpr const char* kGetBook = "inventory.get_book";
inline constexpr const char* kGetBooks = "inventory.get_books";
inline constexpr const char* kPrice = "inventory.price";
inline constexpr const char* kReserve = "inventory.reserve";
inline constexpr const char* kConfirm = "inventory.confirm";
inline constexpr const char* kRelease = "inventory.release";
inline constexpr const char* kRestock = "inventory.restock";
/// Every command above.
inline constexpr const char* kAll[] = {kListBooks, kGetBook, kGetBooks, kPrice,
                                       kReserve,   kConfirm, kRelease,  kRestock};
}  // namespace commands

/// One line of price's and reserve's requests: `{isbn, quantity}`.
struct RequestedLine {
  std::string isbn;
  std::int64_t quantity = 0;
};

inline void to_json(nlohmann::json& j, const RequestedLine& l) {
  j = nlohmann::json{{"isbn", l.isbn}, {"quantity", l.quantity}};
}

/// One priced line of price's and reserve's replies.
struct PricedLine {
  std::string isbn;
  std::string title;
  std::int64_t quantity = 0;
  std::int64_t unit_price_cents = 0;

  std::int64_t line_total_cents() const { return unit_price_cents * quantity; }
};

inline void to_json(nlohmann::json& j, const PricedLine& l) {
  j = nlohmann::json{{"isbn", l.isbn},
                     {"title", l.title},
                     {"quantity", l.quantity},
                     {"unit_price_cents", l.unit_price_cents},
                     {"line_total_cents", l.line_total_cents()}};
}

/// Reply of `inventory.price`, and of `inventory.reserve` with the order's id.
struct PricedItems {
  std::optional<std::string> order_id;  ///< reserve only
  std::vector<PricedLine> items;

  std::int64_t total_cents() const {
    std::int64_t total = 0;
    for (const PricedLine& l : items)
      total += l.line_total_cents();
    return total;
  }
};

inline void to_json(nlohmann::json& j, const PricedItems& p) {
  j = nlohmann::json{{"items", p.items}, {"total_cents", p.total_cents()}};
  if (p.order_id)
    j["order_id"] = *p.order_id;
}

/// Reply of `inventory.confirm` and `inventory.release`.
struct StatusReply {
  static constexpr const char* kConfirmed = "confirmed";
  static constexpr const char* kReleased = "released";

  std::string order_id;
  std::string status;  ///< kConfirmed or kReleased
};

inline void to_json(nlohmann::json& j, const StatusReply& r) {
  j = nlohmann::json{{"order_id", r.order_id}, {"status", r.status}};
}

/// Reply of `inventory.restock`: the copies put back for the return, and the book's stock after.
struct RestockReply {
  std::string return_id;
  std::string isbn;
  std::int64_t quantity = 0;
  std::int64_t stock = 0;
};

inline void to_json(nlohmann::json& j, const RestockReply& r) {
  j = nlohmann::json{
      {"return_id", r.return_id}, {"isbn", r.isbn}, {"quantity", r.quantity}, {"stock", r.stock}};
}

}  // namespace wonderland::inventory
