#include "wonderland/inventory/inventory.hpp"

#include <algorithm>
#include <set>
#include <utility>

#include "wonderland/common/ids.hpp"
#include "wonderland/common/time.hpp"
#include "wonderland/log/log.hpp"
#include "wonderland/messaging/idempotency.hpp"

namespace wonderland::inventory {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxQueryLength = 200;
constexpr std::int64_t kMaxPage = 1'000'000;

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
)sql";

/// One requested line.
struct Line {
  std::string isbn;
  std::int64_t quantity = 0;
};

/// One priced line.
struct Priced {
  std::string isbn;
  std::string title;
  std::int64_t quantity = 0;
  std::int64_t unit_price_cents = 0;
};

Error invalid(std::vector<FieldError> fields) {
  std::string message = "invalid request";
  for (std::size_t i = 0; i < fields.size(); ++i) {
    message += (i == 0 ? ": " : "; ") + fields[i].field + " " + fields[i].message;
  }
  return Error{codes::kInvalidArgument, std::move(message), false, std::move(fields)};
}

Error not_an_object() {
  return Error{codes::kInvalidArgument, "the request body must be a JSON object", false};
}

std::optional<std::int64_t> as_int(const json& j) {
  if (!j.is_number_integer()) return std::nullopt;
  if (j.is_number_unsigned() && j.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
    return std::nullopt;
  }
  return j.get<std::int64_t>();
}

/// Reads `order_id` (a UUID) into `out`, or records a field error.
void read_order_id(const json& body, std::string& out, std::vector<FieldError>& fields) {
  auto it = body.find("order_id");
  if (it == body.end() || !it->is_string() || !is_uuid(it->get<std::string>())) {
    fields.push_back({"order_id", "must be a UUID"});
    return;
  }
  out = it->get<std::string>();
}

/// Reads `items` (1..kMaxItems lines of {isbn, quantity}, distinct isbns), or records field errors.
std::vector<Line> read_items(const json& body, std::vector<FieldError>& fields) {
  std::vector<Line> lines;
  auto it = body.find("items");
  if (it == body.end() || !it->is_array()) {
    fields.push_back({"items", "must be an array of {isbn, quantity}"});
    return lines;
  }
  if (it->empty()) {
    fields.push_back({"items", "must not be empty"});
    return lines;
  }
  if (it->size() > kMaxItems) {
    fields.push_back({"items", "must have at most " + std::to_string(kMaxItems) + " lines"});
    return lines;
  }
  std::set<std::string> seen;
  for (std::size_t i = 0; i < it->size(); ++i) {
    const json& item = (*it)[i];
    const std::string prefix = "items[" + std::to_string(i) + "].";
    if (!item.is_object()) {
      fields.push_back({"items[" + std::to_string(i) + "]", "must be an object {isbn, quantity}"});
      continue;
    }
    Line line;
    auto isbn = item.find("isbn");
    if (isbn == item.end() || !isbn->is_string() || !is_isbn13_format(isbn->get<std::string>())) {
      fields.push_back({prefix + "isbn", "must be 13 digits"});
    } else if (!seen.insert(isbn->get<std::string>()).second) {
      fields.push_back({prefix + "isbn", "appears more than once"});
    } else {
      line.isbn = isbn->get<std::string>();
    }
    auto quantity = item.find("quantity");
    std::optional<std::int64_t> q = quantity == item.end() ? std::nullopt : as_int(*quantity);
    if (!q || *q < 1 || *q > kMaxQuantity) {
      fields.push_back({prefix + "quantity", "must be an integer from 1 to " + std::to_string(kMaxQuantity)});
    } else {
      line.quantity = *q;
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

Error not_found_isbn(const std::string& isbn) {
  return Error{codes::kNotFound, "No book with ISBN " + isbn, false};
}

Error not_enough_stock(const std::string& title, std::int64_t requested, std::int64_t available) {
  return Error{codes::kFailedPrecondition,
               "Not enough stock for " + title + ": " + std::to_string(requested) + " requested, " +
                   std::to_string(available) + " available",
               false};
}

/// Prices `lines` against the stored books, checking that the stock covers each line.
Result<std::vector<Priced>> price_lines(sqlite::Db& db, const std::vector<Line>& lines) {
  auto find = db.prepare("SELECT title, price_cents, stock FROM books WHERE isbn = ?");
  std::vector<Priced> priced;
  for (const Line& line : lines) {
    find.reset();
    find.bind(1, line.isbn);
    if (!find.step()) return not_found_isbn(line.isbn);
    Priced p{line.isbn, find.text(0), line.quantity, find.int64(1)};
    if (find.int64(2) < line.quantity) return not_enough_stock(p.title, line.quantity, find.int64(2));
    priced.push_back(std::move(p));
  }
  return priced;
}

json priced_json(const std::vector<Priced>& lines) {
  json items = json::array();
  std::int64_t total = 0;
  for (const Priced& p : lines) {
    std::int64_t line_total = p.unit_price_cents * p.quantity;
    total += line_total;
    items.push_back({{"isbn", p.isbn},
                     {"title", p.title},
                     {"quantity", p.quantity},
                     {"unit_price_cents", p.unit_price_cents},
                     {"line_total_cents", line_total}});
  }
  return json{{"items", std::move(items)}, {"total_cents", total}};
}

std::optional<Reservation> load_reservation(sqlite::Db& db, const std::string& order_id) {
  auto find = db.prepare("SELECT status, total_cents FROM reservations WHERE order_id = ?");
  find.bind(1, order_id);
  if (!find.step()) return std::nullopt;
  return Reservation{order_id, find.text(0), find.int64(1)};
}

std::vector<Priced> load_reservation_items(sqlite::Db& db, const std::string& order_id) {
  auto rows = db.prepare(
      "SELECT isbn, title, quantity, unit_price_cents FROM reservation_items WHERE order_id = ? ORDER BY line");
  rows.bind(1, order_id);
  std::vector<Priced> items;
  while (rows.step()) items.push_back(Priced{rows.text(0), rows.text(1), rows.int64(2), rows.int64(3)});
  return items;
}

json reservation_reply(const std::string& order_id, const std::vector<Priced>& items) {
  json reply = priced_json(items);
  reply["order_id"] = order_id;
  return reply;
}

void set_status(sqlite::Db& db, const std::string& order_id, const char* status) {
  db.prepare("UPDATE reservations SET status = ?, updated_at = ? WHERE order_id = ?")
      .bind(1, status)
      .bind(2, now_iso8601())
      .bind(3, order_id)
      .step();
}

/// Escapes LIKE wildcards so that `q` matches literally (escape character '\').
std::string like_pattern(const std::string& q) {
  std::string out = "%";
  for (char c : q) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out + "%";
}

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

Book read_book(const sqlite::Statement& row) {
  return Book{row.text(0), row.text(1), row.text(2), row.text(3), row.int64(4), row.int64(5)};
}

constexpr const char* kBookColumns = "isbn, title, author, publisher, price_cents, stock";

}  // namespace

Inventory::Inventory(Options options)
    : db_(std::make_unique<sqlite::Db>(options.db_path, options.sqlite)) {
  db_->exec(kSchema);
  idempotency_ = std::make_unique<messaging::SqliteIdempotencyStore>(*db_);
  if (!options.catalogue_path.empty()) {
    std::vector<Book> books = load_catalogue(options.catalogue_path);
    std::size_t inserted = seed(books);
    log::info("catalogue {}: {} books, {} added", options.catalogue_path, books.size(), inserted);
  }
}

Inventory::~Inventory() = default;

std::size_t Inventory::seed(const std::vector<Book>& books) {
  std::lock_guard lock(mu_);
  sqlite::Transaction tx(*db_);
  auto insert = db_->prepare(
      "INSERT INTO books(isbn, title, author, publisher, price_cents, stock) VALUES (?, ?, ?, ?, ?, ?) "
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

template <class F>
Result<nlohmann::json> Inventory::guarded(const char* what, F&& f) {
  try {
    return std::forward<F>(f)();
  } catch (const sqlite::SqliteError& e) {
    if (e.busy()) {
      log::warn("{}: database busy: {}", what, e.what());
      return Error{codes::kUnavailable, "the inventory database is busy; try again", true};
    }
    log::error("{}: database error: {}", what, e.what());
    return Error{codes::kInternal, "inventory database error", false};
  } catch (const ErrorException& e) {
    return e.error();
  } catch (const std::exception& e) {
    log::error("{}: {}", what, e.what());
    return Error{codes::kInternal, std::string(what) + " failed", false};
  }
}

Result<nlohmann::json> Inventory::state_change(const std::string& key,
                                               const std::function<Result<nlohmann::json>()>& effect) {
  std::lock_guard lock(mu_);
  return messaging::deduplicated(*idempotency_, key, effect);
}

Result<nlohmann::json> Inventory::list_books(const nlohmann::json& body) {
  if (!body.is_object()) return not_an_object();
  std::vector<FieldError> fields;
  std::optional<std::string> q;
  if (auto it = body.find("q"); it != body.end() && !it->is_null()) {
    if (!it->is_string() || it->get<std::string>().size() > kMaxQueryLength) {
      fields.push_back({"q", "must be a string of at most " + std::to_string(kMaxQueryLength) + " characters"});
    } else if (std::string t = trim(it->get<std::string>()); !t.empty()) {
      q = like_pattern(t);
    }
  }
  std::int64_t page = 1;
  if (auto it = body.find("page"); it != body.end() && !it->is_null()) {
    auto v = as_int(*it);
    if (!v || *v < 1 || *v > kMaxPage) {
      fields.push_back({"page", "must be an integer from 1 to " + std::to_string(kMaxPage)});
    } else {
      page = *v;
    }
  }
  std::int64_t page_size = 20;
  if (auto it = body.find("page_size"); it != body.end() && !it->is_null()) {
    auto v = as_int(*it);
    if (!v || *v < 1 || *v > kMaxPageSize) {
      fields.push_back({"page_size", "must be an integer from 1 to " + std::to_string(kMaxPageSize)});
    } else {
      page_size = *v;
    }
  }
  if (!fields.empty()) return invalid(std::move(fields));

  return guarded("list_books", [&]() -> Result<json> {
    std::lock_guard lock(mu_);
    const char* where = " WHERE (?1 IS NULL OR title LIKE ?1 ESCAPE '\\' OR author LIKE ?1 ESCAPE '\\')";
    auto count = db_->prepare(std::string("SELECT COUNT(*) FROM books") + where);
    count.bind(1, q);
    count.step();
    std::int64_t total = count.int64(0);
    auto rows = db_->prepare(std::string("SELECT ") + kBookColumns + " FROM books" + where +
                             " ORDER BY title COLLATE NOCASE, isbn LIMIT ?2 OFFSET ?3");
    rows.bind(1, q).bind(2, page_size).bind(3, (page - 1) * page_size);
    json items = json::array();
    while (rows.step()) items.push_back(read_book(rows).to_json());
    return json{{"items", std::move(items)}, {"page", page}, {"page_size", page_size}, {"total", total}};
  });
}

Result<nlohmann::json> Inventory::get_book(const nlohmann::json& body) {
  if (!body.is_object()) return not_an_object();
  auto it = body.find("isbn");
  if (it == body.end() || !it->is_string() || !is_isbn13_format(it->get<std::string>())) {
    return invalid({{"isbn", "must be 13 digits"}});
  }
  const std::string isbn = it->get<std::string>();
  return guarded("get_book", [&]() -> Result<json> {
    auto b = book(isbn);
    if (!b) return not_found_isbn(isbn);
    return b->to_json();
  });
}

Result<nlohmann::json> Inventory::get_books(const nlohmann::json& body) {
  if (!body.is_object())
    return not_an_object();
  auto it = body.find("isbns");
  if (it == body.end() || !it->is_array() || it->empty() ||
      it->size() > static_cast<std::size_t>(kMaxPageSize)) {
    return invalid(
        {{"isbns", "must be an array of 1 to " + std::to_string(kMaxPageSize) + " ISBNs"}});
  }
  std::vector<std::string> isbns;
  std::vector<FieldError> fields;
  for (std::size_t i = 0; i < it->size(); ++i) {
    const json& v = (*it)[i];
    if (!v.is_string() || !is_isbn13_format(v.get<std::string>())) {
      fields.push_back({"isbns[" + std::to_string(i) + "]", "must be 13 digits"});
    } else if (std::find(isbns.begin(), isbns.end(), v.get<std::string>()) == isbns.end()) {
      isbns.push_back(v.get<std::string>());
    }
  }
  if (!fields.empty())
    return invalid(std::move(fields));
  return guarded("get_books", [&]() -> Result<json> {
    std::lock_guard lock(mu_);
    auto find = db_->prepare(std::string("SELECT ") + kBookColumns + " FROM books WHERE isbn = ?");
    json items = json::array();
    for (const std::string& isbn : isbns) {
      find.reset();
      find.bind(1, isbn);
      if (find.step())
        items.push_back(read_book(find).to_json());
    }
    return json{{"items", std::move(items)}};
  });
}

Result<nlohmann::json> Inventory::price(const nlohmann::json& body) {
  if (!body.is_object()) return not_an_object();
  std::vector<FieldError> fields;
  std::vector<Line> lines = read_items(body, fields);
  if (!fields.empty()) return invalid(std::move(fields));
  return guarded("price", [&]() -> Result<json> {
    std::lock_guard lock(mu_);
    auto priced = price_lines(*db_, lines);
    if (!priced.ok()) return priced.error();
    return priced_json(*priced);
  });
}

Result<nlohmann::json> Inventory::reserve(const nlohmann::json& body, const std::string& idempotency_key) {
  if (!body.is_object()) return not_an_object();
  std::vector<FieldError> fields;
  std::string order_id;
  read_order_id(body, order_id, fields);
  std::vector<Line> lines = read_items(body, fields);
  if (!fields.empty()) return invalid(std::move(fields));

  return guarded("reserve", [&] {
    return state_change(idempotency_key, [&]() -> Result<json> {
      if (auto existing = load_reservation(*db_, order_id)) {
        if (existing->status == "released") {
          return Error{codes::kFailedPrecondition,
                       "The reservation for order " + order_id + " was released", false};
        }
        return reservation_reply(order_id, load_reservation_items(*db_, order_id));
      }
      auto priced = price_lines(*db_, lines);
      if (!priced.ok()) return priced.error();
      auto take = db_->prepare("UPDATE books SET stock = stock - ?1 WHERE isbn = ?2 AND stock >= ?1");
      for (const Priced& p : *priced) {
        take.reset();
        take.bind(1, p.quantity).bind(2, p.isbn);
        take.step();
        if (take.changes() != 1) return not_enough_stock(p.title, p.quantity, 0);  // rolled back
      }
      json reply = reservation_reply(order_id, *priced);
      const std::string now = now_iso8601();
      db_->prepare("INSERT INTO reservations(order_id, status, total_cents, created_at, updated_at) "
                   "VALUES (?, 'reserved', ?, ?, ?)")
          .bind(1, order_id)
          .bind(2, reply["total_cents"].get<std::int64_t>())
          .bind(3, now)
          .bind(4, now)
          .step();
      auto insert = db_->prepare(
          "INSERT INTO reservation_items(order_id, line, isbn, title, quantity, unit_price_cents) "
          "VALUES (?, ?, ?, ?, ?, ?)");
      std::int64_t line = 0;
      for (const Priced& p : *priced) {
        insert.reset();
        insert.bind(1, order_id).bind(2, line++).bind(3, p.isbn).bind(4, p.title);
        insert.bind(5, p.quantity).bind(6, p.unit_price_cents);
        insert.step();
      }
      log::info("order {}: reserved {} line(s), {} cents", order_id, priced->size(),
                reply["total_cents"].get<std::int64_t>());
      return reply;
    });
  });
}

Result<nlohmann::json> Inventory::confirm(const nlohmann::json& body, const std::string& idempotency_key) {
  if (!body.is_object()) return not_an_object();
  std::vector<FieldError> fields;
  std::string order_id;
  read_order_id(body, order_id, fields);
  if (!fields.empty()) return invalid(std::move(fields));

  return guarded("confirm", [&] {
    return state_change(idempotency_key, [&]() -> Result<json> {
      auto existing = load_reservation(*db_, order_id);
      if (!existing) return Error{codes::kNotFound, "No reservation for order " + order_id, false};
      if (existing->status == "released") {
        return Error{codes::kFailedPrecondition,
                     "The reservation for order " + order_id + " was released", false};
      }
      if (existing->status == "reserved") {
        set_status(*db_, order_id, "confirmed");
        log::info("order {}: reservation confirmed", order_id);
      }
      return json{{"order_id", order_id}, {"status", "confirmed"}};
    });
  });
}

Result<nlohmann::json> Inventory::release(const nlohmann::json& body, const std::string& idempotency_key) {
  if (!body.is_object()) return not_an_object();
  std::vector<FieldError> fields;
  std::string order_id;
  read_order_id(body, order_id, fields);
  if (!fields.empty()) return invalid(std::move(fields));

  return guarded("release", [&] {
    return state_change(idempotency_key, [&]() -> Result<json> {
      auto existing = load_reservation(*db_, order_id);
      const std::string now = now_iso8601();
      if (!existing) {
        // A tombstone: a reserve for this order that arrives after its compensation is refused.
        db_->prepare("INSERT INTO reservations(order_id, status, total_cents, created_at, updated_at) "
                     "VALUES (?, 'released', 0, ?, ?)")
            .bind(1, order_id)
            .bind(2, now)
            .bind(3, now)
            .step();
        log::info("order {}: released before any reservation", order_id);
      } else if (existing->status != "released") {
        auto give_back = db_->prepare("UPDATE books SET stock = stock + ? WHERE isbn = ?");
        for (const Priced& p : load_reservation_items(*db_, order_id)) {
          give_back.reset();
          give_back.bind(1, p.quantity).bind(2, p.isbn);
          give_back.step();
        }
        set_status(*db_, order_id, "released");
        log::info("order {}: {} reservation released, stock restored", order_id, existing->status);
      }
      return json{{"order_id", order_id}, {"status", "released"}};
    });
  });
}

void Inventory::register_commands(messaging::CommandRouter& router) {
  using messaging::Envelope;
  auto scoped = [](auto fn) {
    return [fn](const Envelope& e) -> Result<json> {
      log::CorrelationScope scope(e.correlation_id);
      return fn(e);
    };
  };
  router.on("inventory.list_books", scoped([this](const Envelope& e) { return list_books(e.body); }));
  router.on("inventory.get_book", scoped([this](const Envelope& e) { return get_book(e.body); }));
  router.on("inventory.get_books", scoped([this](const Envelope& e) { return get_books(e.body); }));
  router.on("inventory.price", scoped([this](const Envelope& e) { return price(e.body); }));
  router.on("inventory.reserve",
            scoped([this](const Envelope& e) { return reserve(e.body, e.idempotency_key); }));
  router.on("inventory.confirm",
            scoped([this](const Envelope& e) { return confirm(e.body, e.idempotency_key); }));
  router.on("inventory.release",
            scoped([this](const Envelope& e) { return release(e.body, e.idempotency_key); }));
}

std::optional<Book> Inventory::book(const std::string& isbn) {
  std::lock_guard lock(mu_);
  auto find = db_->prepare(std::string("SELECT ") + kBookColumns + " FROM books WHERE isbn = ?");
  find.bind(1, isbn);
  if (!find.step()) return std::nullopt;
  return read_book(find);
}

std::optional<Reservation> Inventory::reservation(const std::string& order_id) {
  std::lock_guard lock(mu_);
  return load_reservation(*db_, order_id);
}

std::int64_t Inventory::book_count() {
  std::lock_guard lock(mu_);
  auto count = db_->prepare("SELECT COUNT(*) FROM books");
  count.step();
  return count.int64(0);
}

}  // namespace wonderland::inventory
