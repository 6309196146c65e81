// CatalogueCache: answers expire, a stock change empties them, and a fetch that raced with the
// change is not kept.
#include "wonderland/mediator/catalogue_cache.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace wonderland::mediator {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

/// A definition with one task on the inventory and one on the payment service.
void define(workflow::DefinitionRegistry& r) {
  json doc = {{"name", "buy"},
              {"version", 1},
              {"steps",
               {{{"id", "reserve"},
                 {"kind", "task"},
                 {"service", "inventory"},
                 {"action", "inventory.reserve"}},
                {{"id", "charge"},
                 {"kind", "task"},
                 {"service", "payment"},
                 {"action", "payment.charge"}}}}};
  auto def = workflow::parse_definition(doc, "buy.json");
  EXPECT_TRUE(def.ok()) << (def.ok() ? "" : def.error().message);
  EXPECT_TRUE(r.add(def.value()).ok());
}

void observe(workflow::Observer& observer, const std::string& type, const std::string& step) {
  workflow::JournalRecord r;
  r.workflow_id = "wf";
  r.type = type;
  r.step = step;
  const std::string definition = "buy";
  observer(workflow::WorkflowEvent{r, definition, 1});
}

TEST(CatalogueCache, AnswersUntilTheyExpire) {
  CatalogueCache cache(60ms);
  EXPECT_FALSE(cache.find("list").has_value());
  cache.put("list", "{\"items\":[]}", cache.generation());
  EXPECT_EQ(cache.find("list").value_or(""), "{\"items\":[]}");
  // Until the steady clock has passed the answer's expiry (put + ttl), not a guessed delay.
  const auto expired = std::chrono::steady_clock::now() + 60ms;
  while (std::chrono::steady_clock::now() <= expired)
    std::this_thread::sleep_until(expired);
  EXPECT_FALSE(cache.find("list").has_value());
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.misses(), 2u);
}

TEST(CatalogueCache, AnInventoryStepOutcomeEmptiesItAndDropsRacingFetches) {
  workflow::DefinitionRegistry defs;
  define(defs);
  CatalogueCache cache(10s);
  auto observer = cache.observer(defs);
  cache.put("book 1", "one", cache.generation());

  observe(observer, workflow::events::kStepStarted, "reserve");   // not an outcome
  observe(observer, workflow::events::kStepSucceeded, "charge");  // not the inventory
  EXPECT_TRUE(cache.find("book 1").has_value());

  const std::uint64_t before = cache.generation();  // a fetch starts
  observe(observer, workflow::events::kStepSucceeded, "reserve");
  EXPECT_FALSE(cache.find("book 1").has_value());
  cache.put("book 1", "stale", before);  // ... and ends after the change
  EXPECT_FALSE(cache.find("book 1").has_value());
  cache.put("book 1", "fresh", cache.generation());
  EXPECT_EQ(cache.find("book 1").value_or(""), "fresh");

  for (const char* type :
       {workflow::events::kStepAttemptFailed, workflow::events::kStepFailed,
        workflow::events::kCompensationSucceeded, workflow::events::kCompensationAttemptFailed}) {
    cache.put("book 1", "x", cache.generation());
    observe(observer, type, "reserve");
    EXPECT_FALSE(cache.find("book 1").has_value()) << type;
  }
}

TEST(CatalogueCache, RemembersKnownIsbnsFromBooksAndPages) {
  CatalogueCache cache(1s);
  cache.remember(json{{"isbn", "9781492043454"}, {"title", "Fundamentals"}});
  cache.remember(json{{"items", {{{"isbn", "9781492077541"}}, {{"isbn", "9781492092391"}}}}});
  for (const char* isbn : {"9781492043454", "9781492077541", "9781492092391"})
    EXPECT_TRUE(cache.known(isbn)) << isbn;
  EXPECT_FALSE(cache.known("9780000000000"));
  cache.invalidate();  // stock moved; the catalogue's titles did not
  EXPECT_TRUE(cache.known("9781492043454"));
}

TEST(CatalogueCache, ATtlOfZeroKeepsNothing) {
  CatalogueCache cache(0ms);
  cache.put("list", "x", cache.generation());
  cache.remember(json{{"isbn", "9781492043454"}});
  EXPECT_FALSE(cache.find("list").has_value());
  EXPECT_FALSE(cache.known("9781492043454"));
}

}  // namespace
}  // namespace wonderland::mediator
