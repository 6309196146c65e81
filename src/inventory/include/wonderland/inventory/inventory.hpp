// The inventory: books, their stock and the reservations that hold stock for orders.
//
//   inventory::Inventory inv({.db_path = "var/inventory.db", .catalogue_path =
//   "data/catalogue.json"}); Result<nlohmann::json> r = inv.reserve({{"order_id", id}, {"items",
//   items}}, idempotency_key);
//
// Every command takes the request body of docs/commands.md ("inventory" section) and returns the
// reply body or an Error value; nothing throws across this interface except the constructor.
//
// Guarantees
//   * Stock never goes negative, also with several threads and several processes on the same
//     database: every change runs in one BEGIN IMMEDIATE transaction that checks and updates the
//     stock, and the table has CHECK (stock >= 0).
//   * reserve is all or nothing: either every line is held or nothing changes.
//   * reserve, confirm, release and restock are idempotent twice over: by the envelope's
//   idempotency key
//     (the first reply is recorded in the same transaction as the effect and replayed), and by
//     order_id (reserving an order that holds a reservation returns that reservation; confirming
//     or releasing twice succeeds without a second effect), and restock by (return_id, isbn).
//   * Releasing an order with no reservation records it as released, so that a reserve for that
//     order arriving late (after its compensation) is refused instead of holding stock forever.
//   * A database that stays locked beyond the busy timeout gives a retryable `unavailable`.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "wonderland/common/error.hpp"
#include "wonderland/inventory/catalogue.hpp"
#include "wonderland/messaging/rpc.hpp"
#include "wonderland/messaging/sqlite_idempotency_store.hpp"
#include "wonderland/sqlite/db.hpp"

namespace wonderland::inventory {

/// Largest quantity of one title in one request.
inline constexpr std::int64_t kMaxQuantity = 100;
/// Largest number of lines in one price/reserve request.
inline constexpr std::size_t kMaxItems = 100;
/// Largest page size of list_books.
inline constexpr std::int64_t kMaxPageSize = 100;

struct Options {
  /// SQLite file (created with its directory when missing), or ":memory:".
  std::string db_path = "var/inventory.db";
  /// Catalogue to seed at start (see load_catalogue); empty seeds nothing. Seeding inserts the
  /// books that are missing and never touches existing ones (their stock in particular).
  std::string catalogue_path;
  sqlite::Options sqlite;
};

/// A reservation as stored, for tests and diagnostics.
struct Reservation {
  std::string order_id;
  std::string status;  ///< reserved | confirmed | released
  std::int64_t total_cents = 0;
};

/// Thread-safe: one database connection guarded by a mutex.
class Inventory {
 public:
  /// Opens (and migrates) the database and seeds the catalogue. Throws on a database error or a
  /// bad catalogue file.
  explicit Inventory(Options options);
  ~Inventory();
  Inventory(const Inventory&) = delete;
  Inventory& operator=(const Inventory&) = delete;

  /// Inserts the books whose ISBN is not stored yet; returns how many were inserted.
  std::size_t seed(const std::vector<Book>& books);

  /// `{q?, page=1, page_size=20}` -> `{items:[Book], page, page_size, total}`. `q` matches a
  /// substring of the title or the author, case-insensitively (ASCII letters); items are sorted
  /// by title. invalid_argument (with fields) for a page < 1, page_size outside 1..100 or a
  /// q that is not a string of at most 200 characters.
  Result<nlohmann::json> list_books(const nlohmann::json& body);
  /// `{isbn}` -> Book; invalid_argument for a malformed isbn, not_found for an unknown one.
  Result<nlohmann::json> get_book(const nlohmann::json& body);
  /// `{isbns:[isbn]}` (1..kMaxPageSize, duplicates allowed) -> `{items:[Book]}`: the books of the
  /// catalogue among them, once each, in the order asked; unknown ones are left out.
  /// invalid_argument (field `isbns` or `isbns[i]`) for anything else.
  Result<nlohmann::json> get_books(const nlohmann::json& body);
  /// `{items:[{isbn, quantity}]}` -> priced items and total_cents. Checks the stock without
  /// holding it: failed_precondition "Not enough stock for <title>: 3 requested, 1 available".
  Result<nlohmann::json> price(const nlohmann::json& body);
  /// `{order_id, items}` -> `{order_id, items:[priced], total_cents}`; holds the stock of every
  /// line or of none. Errors as price; failed_precondition for an order already released.
  Result<nlohmann::json> reserve(const nlohmann::json& body, const std::string& idempotency_key);
  /// `{order_id}` -> `{order_id, status:"confirmed"}`: the held copies are sold. not_found when
  /// the order has no reservation, failed_precondition when it was released.
  Result<nlohmann::json> confirm(const nlohmann::json& body, const std::string& idempotency_key);
  /// `{order_id}` -> `{order_id, status:"released"}`: compensation; gives the copies of a
  /// reserved or confirmed order back to the stock. Succeeds for an unknown or released order.
  Result<nlohmann::json> release(const nlohmann::json& body, const std::string& idempotency_key);

  /// `{return_id, isbn, quantity}` -> `{return_id, isbn, quantity, stock}`: puts the returned
  /// copies back in stock, once per (return_id, isbn); a repeat replies the quantity first
  /// restocked and the current stock. not_found for an unknown isbn.
  Result<nlohmann::json> restock(const nlohmann::json& body, const std::string& idempotency_key);

  /// Registers the eight commands of protocol.hpp on `router` (this must outlive the router's use).
  void register_commands(messaging::CommandRouter& router);

  /// The stored book, for tests and diagnostics.
  std::optional<Book> book(const std::string& isbn);
  /// The stored reservation of an order, for tests and diagnostics.
  std::optional<Reservation> reservation(const std::string& order_id);
  /// Number of books in the catalogue.
  std::int64_t book_count();

 private:
  /// Runs `effect` under the lock, deduplicated by `key` in its transaction.
  Result<nlohmann::json> state_change(const std::string& key,
                                      const std::function<Result<nlohmann::json>()>& effect);

  std::mutex mu_;
  std::unique_ptr<sqlite::Db> db_;
  std::unique_ptr<messaging::SqliteIdempotencyStore> idempotency_;
};

}  // namespace wonderland::inventory
