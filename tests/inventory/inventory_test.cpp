// The inventory's commands against a real SQLite file: seeding, search and paging, pricing,
// reservations (all or nothing, never below zero, also concurrently), idempotency.
#include "wonderland/inventory/inventory.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

#include "wonderland/common/ids.hpp"
#include "wonderland/testing/broker.hpp"

namespace wonderland::inventory {
namespace {

using nlohmann::json;

const std::string kCatalogue = std::string(WONDERLAND_SOURCE_DIR) + "/data/catalogue.json";
constexpr const char* kFosa = "9781492043454";  // Fundamentals of Software Architecture, 5900, 50
constexpr const char* kElevator = "9781492077541";  // The Software Architect Elevator, 4900, 70
constexpr const char* kDdd = "9780134434421";       // Domain-Driven Design Distilled, 3900, 55
constexpr const char* kUnknown = "9780306406157";   // valid ISBN-13, not in the catalogue

class InventoryTest : public ::testing::Test {
 protected:
  InventoryTest() {
    std::filesystem::create_directories(dir_);
    inv_ = std::make_unique<Inventory>(options());
  }
  ~InventoryTest() override {
    inv_.reset();
    std::filesystem::remove_all(dir_);
  }
  Options options(bool seed = true) const {
    Options o;
    o.db_path = (dir_ / "inventory.db").string();
    if (seed)
      o.catalogue_path = kCatalogue;
    return o;
  }
  static json items(std::initializer_list<std::pair<const char*, int>> lines) {
    json a = json::array();
    for (const auto& [isbn, q] : lines)
      a.push_back({{"isbn", isbn}, {"quantity", q}});
    return a;
  }
  std::int64_t stock(const std::string& isbn) { return inv_->book(isbn).value().stock; }
  static std::vector<std::string> field_names(const Error& e) {
    std::vector<std::string> names;
    for (const auto& f : e.fields)
      names.push_back(f.field);
    return names;
  }

  std::filesystem::path dir_ =
      std::filesystem::temp_directory_path() / testing::unique_name("inventory-test");
  std::unique_ptr<Inventory> inv_;
};

// ---- Seeding ---------------------------------------------------------------------------------

TEST_F(InventoryTest, SeedsTheCatalogueWithExactPricesAndStock) {
  EXPECT_EQ(inv_->book_count(), static_cast<std::int64_t>(load_catalogue(kCatalogue).size()));
  EXPECT_GE(inv_->book_count(), 20);
  Book fosa = inv_->book(kFosa).value();
  EXPECT_EQ(fosa.title, "Fundamentals of Software Architecture");
  EXPECT_EQ(fosa.price_cents, 5900);
  EXPECT_EQ(fosa.stock, 50);
  EXPECT_EQ(inv_->book("9781492092391")->price_cents, 5900);
  EXPECT_EQ(inv_->book("9781492092391")->stock, 90);
  EXPECT_EQ(inv_->book(kDdd)->price_cents, 3900);
  EXPECT_EQ(inv_->book(kDdd)->stock, 55);
  EXPECT_EQ(inv_->book("9781492097549")->price_cents, 4500);
  EXPECT_EQ(inv_->book("9781492097549")->stock, 60);
  EXPECT_EQ(inv_->book(kElevator)->price_cents, 4900);
  EXPECT_EQ(inv_->book(kElevator)->stock, 70);
}

TEST_F(InventoryTest, SeedingAgainInsertsMissingBooksOnlyAndKeepsStock) {
  ASSERT_TRUE(
      inv_->reserve({{"order_id", new_uuid()}, {"items", items({{kFosa, 3}})}}, new_uuid()).ok());
  const std::int64_t count = inv_->book_count();
  inv_.reset();
  inv_ = std::make_unique<Inventory>(options());  // a restart seeds again
  EXPECT_EQ(stock(kFosa), 47);
  EXPECT_EQ(inv_->book_count(), count);
  Book extra{"9780306406157", "Extra", "Someone", "Somewhere", 1000, 5};
  Book changed = inv_->book(kFosa).value();
  changed.stock = 999;
  changed.price_cents = 1;
  EXPECT_EQ(inv_->seed({extra, changed}), 1u);
  EXPECT_EQ(inv_->book_count(), count + 1);
  EXPECT_EQ(stock(kFosa), 47);
  EXPECT_EQ(inv_->book(kFosa)->price_cents, 5900);
}

// ---- Reading ---------------------------------------------------------------------------------

TEST_F(InventoryTest, ListsBooksInPagesSortedByTitle) {
  const std::int64_t total = inv_->book_count();
  json first = inv_->list_books(json::object()).value();
  EXPECT_EQ(first["page"], 1);
  EXPECT_EQ(first["page_size"], 20);
  EXPECT_EQ(first["total"], total);
  ASSERT_EQ(first["items"].size(), 20u);
  for (std::size_t i = 1; i < first["items"].size(); ++i) {
    EXPECT_LE(first["items"][i - 1]["title"].get<std::string>(),
              first["items"][i]["title"].get<std::string>());
  }
  const json& b = first["items"][0];
  for (const char* key : {"isbn", "title", "author", "publisher", "price_cents", "stock"}) {
    EXPECT_TRUE(b.contains(key)) << key;
  }
  json second = inv_->list_books({{"page", 2}, {"page_size", 20}}).value();
  EXPECT_EQ(second["items"].size(), static_cast<std::size_t>(total - 20));
  EXPECT_NE(second["items"][0]["isbn"], first["items"][0]["isbn"]);
  json beyond = inv_->list_books({{"page", 50}}).value();
  EXPECT_TRUE(beyond["items"].empty());
  EXPECT_EQ(beyond["total"], total);
  json small = inv_->list_books({{"page", 3}, {"page_size", 5}}).value();
  EXPECT_EQ(small["items"].size(), 5u);
}

TEST_F(InventoryTest, SearchesTitleAndAuthorCaseInsensitively) {
  json by_author = inv_->list_books({{"q", "HOHPE"}}).value();
  EXPECT_EQ(by_author["total"],
            2);  // The Software Architect Elevator, Enterprise Integration Patterns
  for (const auto& b : by_author["items"])
    EXPECT_NE(b["author"].get<std::string>().find("Hohpe"), std::string::npos);

  json by_title = inv_->list_books({{"q", "data mesh"}}).value();
  ASSERT_EQ(by_title["total"], 1);
  EXPECT_EQ(by_title["items"][0]["isbn"], "9781492092391");

  json both = inv_->list_books({{"q", "domain-driven"}, {"page_size", 2}}).value();
  EXPECT_EQ(both["total"], 4);
  EXPECT_EQ(both["items"].size(), 2u);

  EXPECT_EQ(inv_->list_books({{"q", "%"}}).value()["total"], 0);  // wildcards match literally
  EXPECT_EQ(inv_->list_books({{"q", "_"}}).value()["total"], 0);
  EXPECT_EQ(inv_->list_books({{"q", "  "}}).value()["total"], inv_->book_count());
  EXPECT_EQ(inv_->list_books({{"q", nullptr}}).value()["total"], inv_->book_count());
  EXPECT_EQ(inv_->list_books({{"q", "no such book anywhere"}}).value()["total"], 0);
}

TEST_F(InventoryTest, RefusesBadListingParametersNamingTheField) {
  struct Case {
    json body;
    const char* field;
  };
  const Case cases[] = {
      {{{"page", 0}}, "page"},
      {{{"page", -1}}, "page"},
      {{{"page", "2"}}, "page"},
      {{{"page", 1.5}}, "page"},
      {{{"page_size", 0}}, "page_size"},
      {{{"page_size", 101}}, "page_size"},
      {{{"q", 42}}, "q"},
      {{{"q", std::string(201, 'x')}}, "q"},
  };
  for (const auto& c : cases) {
    Result<json> r = inv_->list_books(c.body);
    ASSERT_FALSE(r.ok()) << c.body.dump();
    EXPECT_EQ(r.error().code, codes::kInvalidArgument);
    EXPECT_EQ(field_names(r.error()), std::vector<std::string>{c.field}) << c.body.dump();
  }
  EXPECT_EQ(inv_->list_books({{"page_size", 100}}).value()["items"].size(),
            static_cast<std::size_t>(inv_->book_count()));
  EXPECT_EQ(inv_->list_books(json::array()).error().code, codes::kInvalidArgument);
}

TEST_F(InventoryTest, GetsOneBook) {
  json b = inv_->get_book({{"isbn", kDdd}}).value();
  EXPECT_EQ(b, (json{{"isbn", kDdd},
                     {"title", "Domain-Driven Design Distilled"},
                     {"author", "Vaughn Vernon"},
                     {"publisher", "Addison-Wesley"},
                     {"price_cents", 3900},
                     {"stock", 55}}));
  Result<json> unknown = inv_->get_book({{"isbn", kUnknown}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, codes::kNotFound);
  for (const json& bad : {json{{"isbn", "123"}}, json{{"isbn", 9781492043454}}, json::object()}) {
    Result<json> r = inv_->get_book(bad);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, codes::kInvalidArgument);
    EXPECT_EQ(field_names(r.error()), std::vector<std::string>{"isbn"});
  }
}

TEST_F(InventoryTest, GetsSeveralBooksLeavingOutUnknownOnes) {
  json r = inv_->get_books({{"isbns", {kFosa, kUnknown, kDdd, kFosa}}}).value();
  ASSERT_EQ(r["items"].size(), 2u);
  EXPECT_EQ(r["items"][0], inv_->get_book({{"isbn", kFosa}}).value());
  EXPECT_EQ(r["items"][1], inv_->get_book({{"isbn", kDdd}}).value());
  EXPECT_EQ(inv_->get_books({{"isbns", {kUnknown}}}).value()["items"], json::array());

  struct Case {
    json body;
    std::vector<std::string> fields;
  };
  std::vector<Case> cases = {
      {json::object(), {"isbns"}},
      {{{"isbns", json::array()}}, {"isbns"}},
      {{{"isbns", kFosa}}, {"isbns"}},
      {{{"isbns", json::array({kFosa, "123", 42})}}, {"isbns[1]", "isbns[2]"}},
      {{{"isbns", json(std::vector<std::string>(101, kFosa))}}, {"isbns"}},
  };
  for (const Case& c : cases) {
    Result<json> bad = inv_->get_books(c.body);
    ASSERT_FALSE(bad.ok()) << c.body;
    EXPECT_EQ(bad.error().code, codes::kInvalidArgument);
    EXPECT_EQ(field_names(bad.error()), c.fields) << c.body;
  }
}

TEST_F(InventoryTest, PricesLinesWithoutHoldingStock) {
  json r = inv_->price({{"items", items({{kFosa, 2}, {kDdd, 1}})}}).value();
  ASSERT_EQ(r["items"].size(), 2u);
  EXPECT_EQ(r["items"][0], (json{{"isbn", kFosa},
                                 {"title", "Fundamentals of Software Architecture"},
                                 {"quantity", 2},
                                 {"unit_price_cents", 5900},
                                 {"line_total_cents", 11800}}));
  EXPECT_EQ(r["items"][1]["line_total_cents"], 3900);
  EXPECT_EQ(r["total_cents"], 15700);
  EXPECT_EQ(stock(kFosa), 50);
}

TEST_F(InventoryTest, PriceRefusesBadItems) {
  struct Case {
    json body;
    std::vector<std::string> fields;
  };
  const std::vector<Case> cases = {
      {json::object(), {"items"}},
      {{{"items", json::array()}}, {"items"}},
      {{{"items", "x"}}, {"items"}},
      {{{"items", items({{kFosa, 0}})}}, {"items[0].quantity"}},
      {{{"items", items({{kFosa, 101}})}}, {"items[0].quantity"}},
      {{{"items", json::array({{{"isbn", kFosa}, {"quantity", "2"}}})}}, {"items[0].quantity"}},
      {{{"items", json::array({{{"isbn", kFosa}}})}}, {"items[0].quantity"}},
      {{{"items", items({{"97814920434", 1}})}}, {"items[0].isbn"}},
      {{{"items", items({{kFosa, 1}, {"abc", 0}})}}, {"items[1].isbn", "items[1].quantity"}},
      {{{"items", items({{kFosa, 1}, {kFosa, 1}})}}, {"items[1].isbn"}},
      {{{"items", json::array({42})}}, {"items[0]"}},
  };
  for (const auto& c : cases) {
    Result<json> r = inv_->price(c.body);
    ASSERT_FALSE(r.ok()) << c.body.dump();
    EXPECT_EQ(r.error().code, codes::kInvalidArgument) << c.body.dump();
    EXPECT_EQ(field_names(r.error()), c.fields) << c.body.dump();
  }
  EXPECT_TRUE(inv_->price({{"items", items({{kFosa, 50}})}}).ok());
}

TEST_F(InventoryTest, PriceReportsUnknownBooksAndShortStock) {
  Result<json> unknown = inv_->price({{"items", items({{kFosa, 1}, {kUnknown, 1}})}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, codes::kNotFound);
  EXPECT_NE(unknown.error().message.find(kUnknown), std::string::npos);

  Book scarce{"9780306406157", "Scarce Book", "A", "P", 1000, 1};
  inv_->seed({scarce});
  Result<json> short_stock = inv_->price({{"items", items({{"9780306406157", 3}})}});
  ASSERT_FALSE(short_stock.ok());
  EXPECT_EQ(short_stock.error().code, codes::kFailedPrecondition);
  EXPECT_EQ(short_stock.error().message,
            "Not enough stock for Scarce Book: 3 requested, 1 available");
  EXPECT_FALSE(short_stock.error().retryable);
}

// ---- Reservations ----------------------------------------------------------------------------

TEST_F(InventoryTest, ReserveHoldsStockAndRepliesPricedItems) {
  const std::string order = new_uuid();
  json r = inv_->reserve({{"order_id", order}, {"items", items({{kFosa, 2}, {kElevator, 1}})}},
                         new_uuid())
               .value();
  EXPECT_EQ(r["order_id"], order);
  EXPECT_EQ(r["total_cents"], 2 * 5900 + 4900);
  ASSERT_EQ(r["items"].size(), 2u);
  EXPECT_EQ(r["items"][0]["isbn"], kFosa);
  EXPECT_EQ(r["items"][1]["title"], "The Software Architect Elevator");
  EXPECT_EQ(stock(kFosa), 48);
  EXPECT_EQ(stock(kElevator), 69);
  EXPECT_EQ(inv_->get_book({{"isbn", kFosa}}).value()["stock"], 48);
  EXPECT_EQ(inv_->reservation(order)->status, "reserved");
}

TEST_F(InventoryTest, ReserveIsAllOrNothing) {
  const std::string order = new_uuid();
  Result<json> r =
      inv_->reserve({{"order_id", order}, {"items", items({{kFosa, 2}, {kDdd, 56}})}}, new_uuid());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, codes::kFailedPrecondition);
  EXPECT_EQ(r.error().message,
            "Not enough stock for Domain-Driven Design Distilled: 56 requested, 55 available");
  EXPECT_EQ(stock(kFosa), 50);
  EXPECT_EQ(stock(kDdd), 55);
  EXPECT_FALSE(inv_->reservation(order).has_value());

  Result<json> unknown = inv_->reserve(
      {{"order_id", order}, {"items", items({{kFosa, 1}, {kUnknown, 1}})}}, new_uuid());
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, codes::kNotFound);
  EXPECT_EQ(stock(kFosa), 50);

  // The same order can still be reserved once the request is right.
  EXPECT_TRUE(
      inv_->reserve({{"order_id", order}, {"items", items({{kFosa, 2}, {kDdd, 55}})}}, new_uuid())
          .ok());
  EXPECT_EQ(stock(kDdd), 0);
  Result<json> none_left = inv_->price({{"items", items({{kDdd, 1}})}});
  EXPECT_EQ(none_left.error().message,
            "Not enough stock for Domain-Driven Design Distilled: 1 requested, 0 available");
}

TEST_F(InventoryTest, ReserveValidatesOrderIdAndItems) {
  Result<json> r =
      inv_->reserve({{"order_id", "not-a-uuid"}, {"items", items({{kFosa, 0}})}}, new_uuid());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, codes::kInvalidArgument);
  EXPECT_EQ(field_names(r.error()), (std::vector<std::string>{"order_id", "items[0].quantity"}));
  EXPECT_EQ(stock(kFosa), 50);
  Result<json> no_key =
      inv_->reserve({{"order_id", new_uuid()}, {"items", items({{kFosa, 1}})}}, "");
  ASSERT_FALSE(no_key.ok());
  EXPECT_EQ(no_key.error().code, codes::kInvalidArgument);
  EXPECT_EQ(stock(kFosa), 50);
}

TEST_F(InventoryTest, ConfirmKeepsTheCopiesSold) {
  const std::string order = new_uuid();
  ASSERT_TRUE(
      inv_->reserve({{"order_id", order}, {"items", items({{kFosa, 3}})}}, new_uuid()).ok());
  json c = inv_->confirm({{"order_id", order}}, new_uuid()).value();
  EXPECT_EQ(c, (json{{"order_id", order}, {"status", "confirmed"}}));
  EXPECT_EQ(inv_->reservation(order)->status, "confirmed");
  EXPECT_EQ(stock(kFosa), 47);
  EXPECT_EQ(inv_->confirm({{"order_id", order}}, new_uuid()).value(),
            c);  // twice: no second effect
  EXPECT_EQ(stock(kFosa), 47);

  Result<json> unknown = inv_->confirm({{"order_id", new_uuid()}}, new_uuid());
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, codes::kNotFound);
  EXPECT_EQ(inv_->confirm({{"order_id", "x"}}, new_uuid()).error().code, codes::kInvalidArgument);
}

TEST_F(InventoryTest, ReleaseRestoresStockOnce) {
  const std::string order = new_uuid();
  ASSERT_TRUE(
      inv_->reserve({{"order_id", order}, {"items", items({{kFosa, 3}, {kDdd, 1}})}}, new_uuid())
          .ok());
  EXPECT_EQ(stock(kFosa), 47);
  json r = inv_->release({{"order_id", order}}, new_uuid()).value();
  EXPECT_EQ(r, (json{{"order_id", order}, {"status", "released"}}));
  EXPECT_EQ(stock(kFosa), 50);
  EXPECT_EQ(stock(kDdd), 55);
  EXPECT_EQ(inv_->release({{"order_id", order}}, new_uuid()).value(),
            r);  // twice: no second effect
  EXPECT_EQ(stock(kFosa), 50);
  Result<json> confirm = inv_->confirm({{"order_id", order}}, new_uuid());
  ASSERT_FALSE(confirm.ok());
  EXPECT_EQ(confirm.error().code, codes::kFailedPrecondition);
}

TEST_F(InventoryTest, ReleaseAfterConfirmGivesTheCopiesBack) {
  const std::string order = new_uuid();
  ASSERT_TRUE(
      inv_->reserve({{"order_id", order}, {"items", items({{kElevator, 2}})}}, new_uuid()).ok());
  ASSERT_TRUE(inv_->confirm({{"order_id", order}}, new_uuid()).ok());
  EXPECT_EQ(stock(kElevator), 68);
  ASSERT_TRUE(inv_->release({{"order_id", order}}, new_uuid()).ok());
  EXPECT_EQ(stock(kElevator), 70);
}

TEST_F(InventoryTest, ReleasingAnUnknownOrderSucceedsAndRefusesALateReserve) {
  const std::string order = new_uuid();
  json r = inv_->release({{"order_id", order}}, new_uuid()).value();
  EXPECT_EQ(r["status"], "released");
  Result<json> late =
      inv_->reserve({{"order_id", order}, {"items", items({{kFosa, 1}})}}, new_uuid());
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, codes::kFailedPrecondition);
  EXPECT_EQ(stock(kFosa), 50);
}

TEST_F(InventoryTest, SameIdempotencyKeyActsOnce) {
  const std::string order = new_uuid();
  const std::string key = new_uuid();
  json body{{"order_id", order}, {"items", items({{kFosa, 2}})}};
  json first = inv_->reserve(body, key).value();
  json second = inv_->reserve(body, key).value();
  EXPECT_EQ(first, second);
  EXPECT_EQ(stock(kFosa), 48);

  // Release with one key twice, and a repeated reserve key after the release: the recorded
  // replies come back and nothing acts again.
  const std::string release_key = new_uuid();
  ASSERT_TRUE(inv_->release({{"order_id", order}}, release_key).ok());
  ASSERT_TRUE(inv_->release({{"order_id", order}}, release_key).ok());
  EXPECT_EQ(stock(kFosa), 50);
  EXPECT_EQ(inv_->reserve(body, key).value(), first);
  EXPECT_EQ(stock(kFosa), 50);

  // A refused command is recorded too: the same key gets the same answer.
  const std::string refused_key = new_uuid();
  json too_many{{"order_id", new_uuid()}, {"items", items({{kDdd, 56}})}};
  EXPECT_EQ(inv_->reserve(too_many, refused_key).error().code, codes::kFailedPrecondition);
  inv_->seed({});  // nothing changes
  EXPECT_EQ(inv_->reserve(too_many, refused_key).error().code, codes::kFailedPrecondition);
}

TEST_F(InventoryTest, SameOrderWithAnotherKeyReturnsTheExistingReservation) {
  const std::string order = new_uuid();
  json first =
      inv_->reserve({{"order_id", order}, {"items", items({{kFosa, 2}})}}, new_uuid()).value();
  json again =
      inv_->reserve({{"order_id", order}, {"items", items({{kFosa, 2}})}}, new_uuid()).value();
  EXPECT_EQ(first, again);
  EXPECT_EQ(stock(kFosa), 48);
}

TEST_F(InventoryTest, StockNeverGoesNegativeUnderConcurrentReservations) {
  const std::string isbn = "9780306406157";
  inv_->seed({Book{isbn, "Ten Copies", "A", "P", 1000, 10}});
  // Half the threads go through a second connection to the same file, as a second process would.
  Inventory other(options(false));
  constexpr int kThreads = 8;
  constexpr int kOrders = 100;
  std::atomic<int> next{0};
  std::atomic<int> reserved{0};
  std::atomic<int> refused{0};
  std::atomic<int> other_errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Inventory& inv = t % 2 == 0 ? *inv_ : other;
      while (next.fetch_add(1) < kOrders) {
        Result<json> r = inv.reserve(
            {{"order_id", new_uuid()}, {"items", items({{isbn.c_str(), 1}})}}, new_uuid());
        if (r.ok()) {
          ++reserved;
        } else if (r.error().code == codes::kFailedPrecondition) {
          ++refused;
        } else {
          ++other_errors;
        }
      }
    });
  }
  for (auto& th : threads)
    th.join();
  EXPECT_EQ(reserved.load(), 10);
  EXPECT_EQ(refused.load(), 90);
  EXPECT_EQ(other_errors.load(), 0);
  EXPECT_EQ(stock(isbn), 0);
  EXPECT_EQ(other.book(isbn)->stock, 0);
}

TEST_F(InventoryTest, RestockAddsTheReturnedCopiesOncePerReturnAndIsbn) {
  const std::string return_id = new_uuid();
  const json body{{"return_id", return_id}, {"isbn", kFosa}, {"quantity", 2}};
  Result<json> first = inv_->restock(body, new_uuid());
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first.value(),
            (json{{"return_id", return_id}, {"isbn", kFosa}, {"quantity", 2}, {"stock", 52}}));
  EXPECT_EQ(stock(kFosa), 52);

  // The same (return_id, isbn) under another key: no second effect, the same reply.
  Result<json> again = inv_->restock(body, new_uuid());
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again.value(), first.value());
  Result<json> other_quantity =
      inv_->restock({{"return_id", return_id}, {"isbn", kFosa}, {"quantity", 5}}, new_uuid());
  ASSERT_TRUE(other_quantity.ok());
  EXPECT_EQ(other_quantity.value()["quantity"], 2);  // the first restock wins
  EXPECT_EQ(stock(kFosa), 52);

  // Another line of the return, and the same title for another return, are restocked.
  ASSERT_TRUE(
      inv_->restock({{"return_id", return_id}, {"isbn", kDdd}, {"quantity", 1}}, new_uuid()).ok());
  EXPECT_EQ(stock(kDdd), 56);
  ASSERT_TRUE(
      inv_->restock({{"return_id", new_uuid()}, {"isbn", kFosa}, {"quantity", 1}}, new_uuid())
          .ok());
  EXPECT_EQ(stock(kFosa), 53);

  // It stays done across a restart.
  inv_.reset();
  inv_ = std::make_unique<Inventory>(options());
  ASSERT_TRUE(inv_->restock(body, new_uuid()).ok());
  EXPECT_EQ(stock(kFosa), 53);
}

TEST_F(InventoryTest, RestockOfAnUnknownIsbnIsNotFound) {
  Result<json> r =
      inv_->restock({{"return_id", new_uuid()}, {"isbn", kUnknown}, {"quantity", 1}}, new_uuid());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(),
            (Error{codes::kNotFound, std::string("No book with ISBN ") + kUnknown, false}));
}

TEST_F(InventoryTest, RestockWithBadFieldsIsInvalidArgument) {
  const std::string return_id = new_uuid();
  for (const json& quantity : {json(0), json(-1), json(101), json("2"), json(1.5), json(nullptr)}) {
    SCOPED_TRACE(quantity.dump());
    Result<json> r = inv_->restock(
        {{"return_id", return_id}, {"isbn", kFosa}, {"quantity", quantity}}, new_uuid());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, codes::kInvalidArgument);
    EXPECT_EQ(field_names(r.error()), std::vector<std::string>{"quantity"});
  }
  Result<json> bad = inv_->restock({{"return_id", "r-1"}, {"isbn", "978"}}, new_uuid());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, codes::kInvalidArgument);
  EXPECT_EQ(field_names(bad.error()), (std::vector<std::string>{"return_id", "isbn", "quantity"}));
  Result<json> not_object = inv_->restock(json::array(), new_uuid());
  ASSERT_FALSE(not_object.ok());
  EXPECT_EQ(not_object.error().code, codes::kInvalidArgument);
  EXPECT_EQ(stock(kFosa), 50);
}

TEST_F(InventoryTest, CommandsAreRoutedByType) {
  messaging::CommandRouter router;
  inv_->register_commands(router);
  auto send = [&](const char* type, json body) {
    messaging::Envelope e = messaging::Envelope::make(type, std::move(body));
    e.idempotency_key = new_uuid();
    return router.dispatch(e);
  };
  EXPECT_EQ(send("inventory.get_book", {{"isbn", kFosa}}).value()["stock"], 50);
  EXPECT_EQ(send("inventory.list_books", json::object()).value()["page"], 1);
  EXPECT_EQ(send("inventory.price", {{"items", items({{kFosa, 1}})}}).value()["total_cents"], 5900);
  const std::string order = new_uuid();
  EXPECT_TRUE(
      send("inventory.reserve", {{"order_id", order}, {"items", items({{kFosa, 1}})}}).ok());
  EXPECT_TRUE(send("inventory.confirm", {{"order_id", order}}).ok());
  EXPECT_TRUE(send("inventory.release", {{"order_id", order}}).ok());
  EXPECT_EQ(send("inventory.restock", {{"return_id", new_uuid()}, {"isbn", kFosa}, {"quantity", 1}})
                .value()["stock"],
            51);
  Result<json> unknown = send("inventory.delete_everything", json::object());
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, codes::kInvalidArgument);
}

}  // namespace
}  // namespace wonderland::inventory
