// The inventory's catalogue answers (book pages and single books), kept by the mediator for a
// moment so that browsing does not cost a broker round trip per request, and the ISBNs known to
// be in the catalogue, so that a basket change need not ask whether the book exists.
//
// Freshness: every step outcome of a workflow task on the `inventory` service (reserve,
// release, confirm...) empties the cache, since stock may have moved; this mediator's own
// purchases are therefore never shown with stale stock. Stock moved by another mediator's
// workflows shows after at most `ttl`. A reply that was fetched while the cache was emptied is
// not kept (generations), so a slow fetch cannot put an old answer back.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "wonderland/workflow/definition.hpp"
#include "wonderland/workflow/engine.hpp"

namespace wonderland::mediator {

class CatalogueCache {
 public:
  /// `ttl` 0 disables the cache: find() and known() always miss.
  explicit CatalogueCache(std::chrono::milliseconds ttl, std::size_t max_entries = 2000,
                          std::chrono::milliseconds known_ttl = std::chrono::minutes(1));

  /// A fresh answer (its JSON text) for `key`.
  std::optional<std::string> find(const std::string& key);
  /// Read before fetching; put() keeps the answer only if nothing was emptied since.
  std::uint64_t generation() const;
  void put(const std::string& key, std::string body, std::uint64_t generation);
  /// Empties the answers (not the known ISBNs: books do not leave the catalogue).
  void invalidate();

  /// Whether `isbn` was seen in the catalogue within the last `known_ttl`.
  bool known(const std::string& isbn);
  /// Records that these ISBNs are in the catalogue (a Book, or a page or list of them).
  void remember(const nlohmann::json& books);

  /// An engine observer that empties the cache on every outcome of a step on the inventory.
  workflow::Observer observer(const workflow::DefinitionRegistry& registry);
  /// Whether the event is such an outcome (it may have changed stock levels).
  static bool changes_stock(const workflow::WorkflowEvent& event,
                            const workflow::DefinitionRegistry& registry);

  std::uint64_t hits() const;
  std::uint64_t misses() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    std::string body;
    Clock::time_point expires;
  };
  const std::chrono::milliseconds ttl_;
  const std::size_t max_entries_;
  const std::chrono::milliseconds known_ttl_;
  mutable std::mutex mu_;
  std::uint64_t generation_ = 0;
  std::uint64_t hits_ = 0;
  std::uint64_t misses_ = 0;
  std::unordered_map<std::string, Entry> entries_;
  std::unordered_map<std::string, Clock::time_point> known_;
};

}  // namespace wonderland::mediator
