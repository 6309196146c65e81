#include "tables.hpp"

#include "wonderland/common/time.hpp"
#include "wonderland/log/failure.hpp"

namespace wonderland::inventory::tables {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS books (
  isbn        TEXT PRIMARY KEY,
  title       TEXT NOT NULL,
  author      TEXT NOT NULL,
  publisher   TEXT NOT NULL,
  price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
  stock       INTEGER NOT NULL CHECK (stock >= 0)
);
CREATE TABLE IF NOT EXISTS reservations (
  order_id    TEXT PRIMARY KEY,
  status      TEXT NOT NULL CHECK (status IN ('reserved', 'confirmed', 'released')),
  total_cents INTEGER NOT NULL,
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reservation_items (
  order_id         TEXT NOT NULL REFERENCES reservations(order_id),
  line             INTEGER NOT NULL,
  isbn             TEXT NOT NULL,
  title            TEXT NOT NULL,
  quantity         INTEGER NOT NULL CHECK (quantity > 0),
  unit_price_cents INTEGER NOT NULL,
  PRIMARY KEY (order_id, isbn)
);
CREATE TABLE IF NOT EXISTS restocks (
  return_id  TEXT NOT NULL,
  isbn       TEXT NOT NULL REFERENCES books(isbn),
  quantity   INTEGER NOT NULL CHECK (quantity > 0),
  created_at TEXT NOT NULL,
  PRIMARY KEY (return_id, isbn)
);
)sql";

constexpr const char* kBookColumns = "isbn, title, author, publisher, price_cents, stock";
constexpr const char* kMatches =
    " WHERE (?1 IS NULL OR title LIKE ?1 ESCAPE '\\' OR author LIKE ?1 ESCAPE '\\')";

Book read_book(const sqlite::Statement& row) {
  return Book{row.text(0), row.text(1), row.text(2), row.text(3), row.int64(4), row.int64(5)};
}

sqlite::Statement find_book(sqlite::Db& db) {
  return db.prepare(std::string("SELECT ") + kBookColumns + " FROM books WHERE isbn = ?");
}

}  // namespace

const sqlite::GuardedStore& store() {
  static const sqlite::GuardedStore database{"the inventory database",
                                             log::report_failure<sqlite::Failure>};
  return database;
}

void migrate(sqlite::Db& db) {
  db.exec(kSchema);
}

std::size_t seed(sqlite::Db& db, const std::vector<Book>& books) {
  sqlite::Transaction tx(db);
  auto insert = db.prepare(
      "INSERT INTO books(isbn, title, author, publisher, price_cents, stock) VALUES (?, ?, ?, ?, "
      "?, ?) "
      "ON CONFLICT(isbn) DO NOTHING");
  std::size_t inserted = 0;
  for (const Book& b : books) {
    insert.reset();
    insert.bind(1, b.isbn).bind(2, b.title).bind(3, b.author).bind(4, b.publisher);
    insert.bind(5, b.price_cents).bind(6, b.stock);
    insert.step();
    inserted += static_cast<std::size_t>(insert.changes());
  }
  tx.commit();
  return inserted;
}

Error not_found_isbn(const std::string& isbn) {
  return Error::of(codes::kNotFound, "No book with ISBN " + isbn);
}

Error not_enough_stock(const std::string& title, std::int64_t requested, std::int64_t available) {
  return Error::of(codes::kFailedPrecondition, "Not enough stock for " + title + ": " +
                                                   std::to_string(requested) + " requested, " +
                                                   std::to_string(available) + " available");
}

std::optional<Book> book(sqlite::Db& db, const std::string& isbn) {
  auto find = find_book(db);
  find.bind(1, isbn);
  if (!find.step())
    return std::nullopt;
  return read_book(find);
}

std::vector<Book> books(sqlite::Db& db, const std::vector<std::string>& isbns) {
  auto find = find_book(db);
  std::vector<Book> found;
  for (const std::string& isbn : isbns) {
    find.reset();
    find.bind(1, isbn);
    if (find.step())
      found.push_back(read_book(find));
  }
  return found;
}

std::int64_t count(sqlite::Db& db, const std::optional<std::string>& pattern) {
  auto total = db.prepare(std::string("SELECT COUNT(*) FROM books") + kMatches);
  total.bind(1, pattern);
  total.step();
  return total.int64(0);
}

std::vector<Book> page(sqlite::Db& db, const std::optional<std::string>& pattern,
                       std::int64_t limit, std::int64_t offset) {
  auto rows = db.prepare(std::string("SELECT ") + kBookColumns + " FROM books" + kMatches +
                         " ORDER BY title COLLATE NOCASE, isbn LIMIT ?2 OFFSET ?3");
  rows.bind(1, pattern).bind(2, limit).bind(3, offset);
  std::vector<Book> found;
  while (rows.step())
    found.push_back(read_book(rows));
  return found;
}

Result<std::vector<PricedLine>> price(sqlite::Db& db, const std::vector<RequestedLine>& lines) {
  auto find = db.prepare("SELECT title, price_cents, stock FROM books WHERE isbn = ?");
  std::vector<PricedLine> priced;
  for (const RequestedLine& line : lines) {
    find.reset();
    find.bind(1, line.isbn);
    if (!find.step())
      return not_found_isbn(line.isbn);
    PricedLine p{line.isbn, find.text(0), line.quantity, find.int64(1)};
    if (find.int64(2) < line.quantity)
      return not_enough_stock(p.title, line.quantity, find.int64(2));
    priced.push_back(std::move(p));
  }
  return priced;
}

Result<Unit> take_stock(sqlite::Db& db, const std::vector<PricedLine>& lines) {
  auto take = db.prepare("UPDATE books SET stock = stock - ?1 WHERE isbn = ?2 AND stock >= ?1");
  for (const PricedLine& p : lines) {
    take.reset();
    take.bind(1, p.quantity).bind(2, p.isbn);
    take.step();
    if (take.changes() != 1)
      return not_enough_stock(p.title, p.quantity, 0);
  }
  return Unit{};
}

void give_back_stock(sqlite::Db& db, const std::vector<PricedLine>& lines) {
  auto give_back = db.prepare("UPDATE books SET stock = stock + ? WHERE isbn = ?");
  for (const PricedLine& p : lines) {
    give_back.reset();
    give_back.bind(1, p.quantity).bind(2, p.isbn);
    give_back.step();
  }
}

std::optional<Reservation> reservation(sqlite::Db& db, const std::string& order_id) {
  auto find = db.prepare("SELECT status, total_cents FROM reservations WHERE order_id = ?");
  find.bind(1, order_id);
  if (!find.step())
    return std::nullopt;
  return Reservation{order_id, find.text(0), find.int64(1)};
}

std::vector<PricedLine> reservation_lines(sqlite::Db& db, const std::string& order_id) {
  auto rows = db.prepare(
      "SELECT isbn, title, quantity, unit_price_cents FROM reservation_items WHERE order_id = ? "
      "ORDER BY line");
  rows.bind(1, order_id);
  std::vector<PricedLine> items;
  while (rows.step())
    items.push_back(PricedLine{rows.text(0), rows.text(1), rows.int64(2), rows.int64(3)});
  return items;
}

void insert_reservation(sqlite::Db& db, const std::string& order_id, const PricedItems& items) {
  const std::string now = now_iso8601();
  db.prepare(
        "INSERT INTO reservations(order_id, status, total_cents, created_at, updated_at) "
        "VALUES (?, 'reserved', ?, ?, ?)")
      .bind(1, order_id)
      .bind(2, items.total_cents())
      .bind(3, now)
      .bind(4, now)
      .step();
  auto insert = db.prepare(
      "INSERT INTO reservation_items(order_id, line, isbn, title, quantity, unit_price_cents) "
      "VALUES (?, ?, ?, ?, ?, ?)");
  std::int64_t line = 0;
  for (const PricedLine& p : items.items) {
    insert.reset();
    insert.bind(1, order_id).bind(2, line++).bind(3, p.isbn).bind(4, p.title);
    insert.bind(5, p.quantity).bind(6, p.unit_price_cents);
    insert.step();
  }
}

void insert_released(sqlite::Db& db, const std::string& order_id) {
  const std::string now = now_iso8601();
  db.prepare(
        "INSERT INTO reservations(order_id, status, total_cents, created_at, updated_at) "
        "VALUES (?, 'released', 0, ?, ?)")
      .bind(1, order_id)
      .bind(2, now)
      .bind(3, now)
      .step();
}

void set_status(sqlite::Db& db, const std::string& order_id, const char* status) {
  db.prepare("UPDATE reservations SET status = ?, updated_at = ? WHERE order_id = ?")
      .bind(1, status)
      .bind(2, now_iso8601())
      .bind(3, order_id)
      .step();
}

std::optional<std::int64_t> restocked(sqlite::Db& db, const std::string& return_id,
                                      const std::string& isbn) {
  auto find = db.prepare("SELECT quantity FROM restocks WHERE return_id = ? AND isbn = ?");
  find.bind(1, return_id).bind(2, isbn);
  if (!find.step())
    return std::nullopt;
  return find.int64(0);
}

void insert_restock(sqlite::Db& db, const std::string& return_id, const std::string& isbn,
                    std::int64_t quantity) {
  db.prepare("INSERT INTO restocks(return_id, isbn, quantity, created_at) VALUES (?, ?, ?, ?)")
      .bind(1, return_id)
      .bind(2, isbn)
      .bind(3, quantity)
      .bind(4, now_iso8601())
      .step();
}

}  // namespace wonderland::inventory::tables
