#include "wonderland/mediator/catalogue_cache.hpp"

namespace wonderland::mediator {

CatalogueCache::CatalogueCache(std::chrono::milliseconds ttl, std::size_t max_entries,
                               std::chrono::milliseconds known_ttl)
    : ttl_(ttl), max_entries_(max_entries), known_ttl_(known_ttl) {}

std::optional<std::string> CatalogueCache::find(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.expires <= Clock::now()) {
    ++misses_;
    return std::nullopt;
  }
  ++hits_;
  return it->second.body;
}

std::uint64_t CatalogueCache::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

void CatalogueCache::put(const std::string& key, std::string body, std::uint64_t generation) {
  if (ttl_.count() == 0)
    return;
  std::lock_guard lock(mu_);
  if (generation != generation_)
    return;
  if (entries_.size() >= max_entries_ && entries_.count(key) == 0)
    entries_.clear();
  entries_[key] = Entry{std::move(body), Clock::now() + ttl_};
}

void CatalogueCache::invalidate() {
  std::lock_guard lock(mu_);
  ++generation_;
  entries_.clear();
}

bool CatalogueCache::known(const std::string& isbn) {
  std::lock_guard lock(mu_);
  auto it = known_.find(isbn);
  return it != known_.end() && it->second > Clock::now();
}

void CatalogueCache::remember(const nlohmann::json& books) {
  if (ttl_.count() == 0)
    return;
  const nlohmann::json* list = &books;
  if (books.is_object()) {
    auto items = books.find("items");
    if (items == books.end()) {
      list = nullptr;  // one Book
    } else {
      list = &*items;
    }
  }
  const auto expires = Clock::now() + known_ttl_;
  std::lock_guard lock(mu_);
  if (known_.size() >= max_entries_)
    known_.clear();
  auto add = [&](const nlohmann::json& book) {
    if (!book.is_object())
      return;
    auto isbn = book.find("isbn");
    if (isbn != book.end() && isbn->is_string())
      known_[isbn->get<std::string>()] = expires;
  };
  if (list == nullptr) {
    add(books);
  } else if (list->is_array()) {
    for (const auto& book : *list)
      add(book);
  }
}

bool CatalogueCache::changes_stock(const workflow::WorkflowEvent& e,
                                   const workflow::DefinitionRegistry& registry) {
  namespace ev = workflow::events;
  const std::string& t = e.record.type;
  if (t != ev::kStepSucceeded && t != ev::kStepAttemptFailed && t != ev::kStepFailed &&
      t != ev::kCompensationSucceeded && t != ev::kCompensationAttemptFailed) {
    return false;
  }
  auto def = registry.find(e.definition, e.version);
  if (!def)
    return false;
  const auto* step = def->find_path(e.record.step);
  return step != nullptr && step->service == "inventory";
}

workflow::Observer CatalogueCache::observer(const workflow::DefinitionRegistry& registry) {
  return [this, &registry](const workflow::WorkflowEvent& e) {
    if (changes_stock(e, registry))
      invalidate();
  };
}

std::uint64_t CatalogueCache::hits() const {
  std::lock_guard lock(mu_);
  return hits_;
}

std::uint64_t CatalogueCache::misses() const {
  std::lock_guard lock(mu_);
  return misses_;
}

}  // namespace wonderland::mediator
