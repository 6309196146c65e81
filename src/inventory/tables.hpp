// The inventory database's tables (private to the inventory component): the schema, books and
// their stock, reservations and their lines, restocks of returned copies. Every function runs on
// the caller's connection, inside the caller's lock (and transaction, for changes).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "wonderland/common/error.hpp"
#include "wonderland/inventory/catalogue.hpp"
#include "wonderland/inventory/inventory.hpp"
#include "wonderland/inventory/protocol.hpp"
#include "wonderland/sqlite/db.hpp"
#include "wonderland/sqlite/guarded.hpp"

namespace wonderland::inventory::tables {

/// The database as sqlite::guarded sees it: "the inventory database", failures logged.
const sqlite::GuardedStore& store();

/// Creates the tables that are missing.
void migrate(sqlite::Db& db);
/// Inserts the books whose ISBN is not stored yet, in one transaction; returns how many.
std::size_t seed(sqlite::Db& db, const std::vector<Book>& books);

/// not_found: "No book with ISBN <isbn>".
Error not_found_isbn(const std::string& isbn);
/// failed_precondition: "Not enough stock for <title>: 3 requested, 1 available".
Error not_enough_stock(const std::string& title, std::int64_t requested, std::int64_t available);

/// The stored book.
std::optional<Book> book(sqlite::Db& db, const std::string& isbn);
/// The books among `isbns`, in that order; unknown ones are left out.
std::vector<Book> books(sqlite::Db& db, const std::vector<std::string>& isbns);
/// How many books match `pattern` (a LIKE pattern on title or author; unset: all).
std::int64_t count(sqlite::Db& db, const std::optional<std::string>& pattern);
/// The page of books matching `pattern`, sorted by title.
std::vector<Book> page(sqlite::Db& db, const std::optional<std::string>& pattern,
                       std::int64_t limit, std::int64_t offset);

/// Prices `lines` against the stored books, checking that the stock covers each line.
Result<std::vector<PricedLine>> price(sqlite::Db& db, const std::vector<RequestedLine>& lines);
/// Takes the stock of every line; failed_precondition (and the caller rolls back) when a line
/// is no longer covered.
Result<Unit> take_stock(sqlite::Db& db, const std::vector<PricedLine>& lines);
/// Gives the copies of `lines` back to the stock.
void give_back_stock(sqlite::Db& db, const std::vector<PricedLine>& lines);

/// The stored reservation of an order.
std::optional<Reservation> reservation(sqlite::Db& db, const std::string& order_id);
/// Its lines, in the order reserved.
std::vector<PricedLine> reservation_lines(sqlite::Db& db, const std::string& order_id);
/// Records a reservation `reserved` with its lines.
void insert_reservation(sqlite::Db& db, const std::string& order_id, const PricedItems& items);
/// Records an order released before any reservation (a tombstone).
void insert_released(sqlite::Db& db, const std::string& order_id);
/// Sets a reservation's status.
void set_status(sqlite::Db& db, const std::string& order_id, const char* status);

/// The quantity restocked for (return_id, isbn), when it was.
std::optional<std::int64_t> restocked(sqlite::Db& db, const std::string& return_id,
                                      const std::string& isbn);
/// Records that `quantity` copies of `isbn` came back to the stock for the return.
void insert_restock(sqlite::Db& db, const std::string& return_id, const std::string& isbn,
                    std::int64_t quantity);

}  // namespace wonderland::inventory::tables
