#include "pg_ownership.hpp"

namespace wonderland::workflow::pg {

Ownership::Ownership(std::chrono::milliseconds lease)
    : valid_for_(lease - lease / 3), renewed_at_(std::chrono::steady_clock::now()) {}

void Ownership::own_locked(const std::string& id, std::int64_t fence) {
  fences_[id] = fence;
  lost_.erase(id);
}

bool Ownership::admit(const std::string& id, const RowOwner& row) {
  std::lock_guard guard(mutex_);
  if (lost_.contains(id))
    return false;
  if (auto it = fences_.find(id); it != fences_.end()) {
    if (row.mine && row.fence == it->second)
      return true;
  } else if (row.mine && !row.running && !released_) {
    return true;
  }
  lose_locked(id);
  return false;
}

void Ownership::written(const std::string& id, std::int64_t fence, bool running) {
  std::lock_guard guard(mutex_);
  if (running) {
    if (!lost_.contains(id) && !released_)
      fences_.try_emplace(id, fence);
  } else if (auto it = fences_.find(id); it != fences_.end() && it->second == fence) {
    fences_.erase(it);
  }
}

void Ownership::lose(const std::string& id, std::int64_t fence) {
  std::lock_guard guard(mutex_);
  if (auto it = fences_.find(id); it != fences_.end() && it->second == fence)
    lose_locked(id);
}

void Ownership::lose_locked(const std::string& id) {
  fences_.erase(id);
  if (lost_.insert(id).second)
    newly_lost_.push_back(id);
}

std::vector<std::pair<std::string, std::int64_t>> Ownership::owned() const {
  std::lock_guard guard(mutex_);
  return {fences_.begin(), fences_.end()};
}

void Ownership::renewed(SteadyTime sent) {
  std::lock_guard guard(mutex_);
  if (sent > renewed_at_)
    renewed_at_ = sent;
}

void Ownership::release() {
  std::lock_guard guard(mutex_);
  fences_.clear();
  released_ = true;
}

bool Ownership::owns(const std::string& id) const {
  std::lock_guard guard(mutex_);
  if (released_ || std::chrono::steady_clock::now() > renewed_at_ + valid_for_)
    return false;
  return !lost_.contains(id);
}

std::vector<std::string> Ownership::take_lost() {
  std::lock_guard guard(mutex_);
  if (!released_ && std::chrono::steady_clock::now() > renewed_at_ + valid_for_) {
    // The leases lapsed: every workflow may be claimed by another mediator any moment now.
    std::vector<std::string> ids;
    ids.reserve(fences_.size());
    for (const auto& entry : fences_)
      ids.push_back(entry.first);
    for (const std::string& id : ids)
      lose_locked(id);
  }
  return std::exchange(newly_lost_, {});
}

}  // namespace wonderland::workflow::pg
