// What this mediator owns, in memory: the fence of every running workflow it owns, the ones it
// lost to another mediator, and when its leases were last renewed. Shared by the writer thread
// (which admits records by it) and the lease calls; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace wonderland::workflow::pg {

/// A locked `workflows` row as the writer sees it.
struct RowOwner {
  bool mine = false;  ///< owner is this mediator
  std::int64_t fence = 0;
  bool running = false;
};

class Ownership {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;

  /// `lease`: the lease length; owns() turns false when renewed() was not called for
  /// lease - lease/3.
  explicit Ownership(std::chrono::milliseconds lease);

  /// Holds the state's mutex; the `*_locked` functions need it held.
  std::unique_lock<std::mutex> lock() const { return std::unique_lock(mutex_); }
  /// Remembers `id` as owned with `fence` (started or claimed); it is no longer lost.
  void own_locked(const std::string& id, std::int64_t fence);
  /// Whether the writer may write records of `id` whose locked row is `row`. A workflow owned
  /// with another fence or by another mediator becomes lost. A settled workflow this mediator
  /// owned last (an operator's retry) is admitted.
  bool admit(const std::string& id, const RowOwner& row);
  /// The writer committed records of `id` with `fence`, leaving it running or settled. A
  /// running one is tracked unless it already is (a claim may have bumped the fence since) or
  /// was lost meanwhile; a settled one is no longer tracked.
  void written(const std::string& id, std::int64_t fence, bool running);
  /// Marks `id` lost when it is still owned with `fence`.
  void lose(const std::string& id, std::int64_t fence);
  /// The running workflows owned and their fences.
  std::vector<std::pair<std::string, std::int64_t>> owned() const;
  /// Leases were renewed by a statement sent at `sent`.
  void renewed(SteadyTime sent);
  /// Forgets every workflow; owns() is false from now on.
  void release();

  bool owns(const std::string& id) const;
  /// The workflows lost since the previous call. Once the leases lapsed (no renewal for
  /// lease - lease/3), every workflow still owned is lost too: the engine drops them all, and
  /// they are claimed again (by any mediator, this one included) when their leases expire.
  std::vector<std::string> take_lost();

 private:
  void lose_locked(const std::string& id);

  mutable std::mutex mutex_;
  std::chrono::milliseconds valid_for_;  ///< lease - lease/3
  std::unordered_map<std::string, std::int64_t> fences_;
  std::unordered_set<std::string> lost_;
  std::vector<std::string> newly_lost_;
  SteadyTime renewed_at_;
  bool released_ = false;
};

}  // namespace wonderland::workflow::pg
