#include "wonderland/inventory/inventory.hpp"

#include <utility>

#include "requests.hpp"
#include "tables.hpp"
#include "wonderland/log/log.hpp"
#include "wonderland/messaging/idempotency.hpp"
#include "wonderland/sqlite/guarded.hpp"

namespace wonderland::inventory {
namespace {

using nlohmann::json;

json books_json(const std::vector<Book>& books) {
  json items = json::array();
  for (const Book& b : books)
    items.push_back(b.to_json());
  return items;
}

}  // namespace

Inventory::Inventory(Options options)
    : db_(std::make_unique<sqlite::Db>(options.db_path, options.sqlite)) {
  tables::migrate(*db_);
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
  return tables::seed(*db_, books);
}

Result<nlohmann::json> Inventory::state_change(
    const std::string& key, const std::function<Result<nlohmann::json>()>& effect) {
  std::lock_guard lock(mu_);
  return messaging::deduplicated(*idempotency_, key, effect);
}

Result<nlohmann::json> Inventory::list_books(const nlohmann::json& body) {
  Result<BookQuery> query = read_book_query(body);
  if (!query.ok())
    return query.error();
  return sqlite::guarded(tables::store(), "list_books", [&]() -> Result<json> {
    std::lock_guard lock(mu_);
    const std::int64_t total = tables::count(*db_, query->pattern);
    const std::vector<Book> page =
        tables::page(*db_, query->pattern, query->page_size, (query->page - 1) * query->page_size);
    return json{{"items", books_json(page)},
                {"page", query->page},
                {"page_size", query->page_size},
                {"total", total}};
  });
}

Result<nlohmann::json> Inventory::get_book(const nlohmann::json& body) {
  Result<std::string> isbn = read_isbn(body);
  if (!isbn.ok())
    return isbn.error();
  return sqlite::guarded(tables::store(), "get_book", [&]() -> Result<json> {
    auto b = book(*isbn);
    if (!b)
      return tables::not_found_isbn(*isbn);
    return b->to_json();
  });
}

Result<nlohmann::json> Inventory::get_books(const nlohmann::json& body) {
  Result<std::vector<std::string>> isbns = read_isbns(body);
  if (!isbns.ok())
    return isbns.error();
  return sqlite::guarded(tables::store(), "get_books", [&]() -> Result<json> {
    std::lock_guard lock(mu_);
    return json{{"items", books_json(tables::books(*db_, *isbns))}};
  });
}

Result<nlohmann::json> Inventory::price(const nlohmann::json& body) {
  Result<std::vector<RequestedLine>> lines = read_lines(body);
  if (!lines.ok())
    return lines.error();
  return sqlite::guarded(tables::store(), "price", [&]() -> Result<json> {
    std::lock_guard lock(mu_);
    auto priced = tables::price(*db_, *lines);
    if (!priced.ok())
      return priced.error();
    return json(PricedItems{std::nullopt, std::move(priced.value())});
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
  router.on(commands::kListBooks, scoped([this](const Envelope& e) { return list_books(e.body); }));
  router.on(commands::kGetBook, scoped([this](const Envelope& e) { return get_book(e.body); }));
  router.on(commands::kGetBooks, scoped([this](const Envelope& e) { return get_books(e.body); }));
  router.on(commands::kPrice, scoped([this](const Envelope& e) { return price(e.body); }));
  router.on(commands::kReserve,
            scoped([this](const Envelope& e) { return reserve(e.body, e.idempotency_key); }));
  router.on(commands::kConfirm,
            scoped([this](const Envelope& e) { return confirm(e.body, e.idempotency_key); }));
  router.on(commands::kRelease,
            scoped([this](const Envelope& e) { return release(e.body, e.idempotency_key); }));
  router.on(commands::kRestock,
            scoped([this](const Envelope& e) { return restock(e.body, e.idempotency_key); }));
}

std::optional<Book> Inventory::book(const std::string& isbn) {
  std::lock_guard lock(mu_);
  return tables::book(*db_, isbn);
}

std::optional<Reservation> Inventory::reservation(const std::string& order_id) {
  std::lock_guard lock(mu_);
  return tables::reservation(*db_, order_id);
}

std::int64_t Inventory::book_count() {
  std::lock_guard lock(mu_);
  return tables::count(*db_, std::nullopt);
}

}  // namespace wonderland::inventory
