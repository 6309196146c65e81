#include "wonderland/mediator/throttle.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <unordered_map>

#include "wonderland/http/request.hpp"

namespace wonderland::mediator {
namespace {

using TimePoint = std::chrono::steady_clock::time_point;
using std::chrono::milliseconds;

/// Expired entries are swept every this many operations, so that keys seen once do not pile up.
constexpr std::uint64_t kSweepEvery = 4096;

class MemoryFailureThrottle final : public FailureThrottle {
 public:
  MemoryFailureThrottle(LockoutPolicy policy, ThrottleClock clock)
      : policy_(policy), clock_(std::move(clock)) {}

  Verdict attempt(const std::string& key) override {
    if (!policy_.enabled())
      return {};
    const TimePoint now = clock_();
    std::lock_guard lock(mu_);
    maybe_sweep(now);
    Entry& e = entries_[key];
    if (e.failures > 0 && expired(e, now))
      e = Entry{};
    if (now < e.locked_until) {
      return {false, std::chrono::ceil<milliseconds>(e.locked_until - now)};
    }
    ++e.failures;
    e.last = now;
    e.locked_until = now + policy_.lockout_after(e.failures);
    return {};
  }

  void forgive(const std::string& key) override {
    if (!policy_.enabled())
      return;
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end())
      return;
    Entry& e = it->second;
    if (e.failures <= 1) {
      entries_.erase(it);
      return;
    }
    --e.failures;
    e.locked_until = e.last + policy_.lockout_after(e.failures);
  }

  void reset(const std::string& key) override {
    if (!policy_.enabled())
      return;
    std::lock_guard lock(mu_);
    entries_.erase(key);
  }

 private:
  struct Entry {
    std::uint64_t failures = 0;
    TimePoint last{};
    TimePoint locked_until{};
  };

  bool expired(const Entry& e, TimePoint now) const {
    return now >= e.locked_until && now - e.last >= policy_.forget_after;
  }

  void maybe_sweep(TimePoint now) {
    if (++operations_ % kSweepEvery != 0)
      return;
    std::erase_if(entries_, [&](const auto& kv) { return expired(kv.second, now); });
  }

  const LockoutPolicy policy_;
  const ThrottleClock clock_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  std::uint64_t operations_ = 0;
};

class MemoryRateLimiter final : public RateLimiter {
 public:
  MemoryRateLimiter(RatePolicy policy, ThrottleClock clock)
      : policy_(policy), clock_(std::move(clock)) {
    policy_.burst = std::max(1.0, policy_.burst);
  }

  Verdict acquire(const std::string& key) override {
    if (!policy_.enabled())
      return {};
    const TimePoint now = clock_();
    const double per_ms = policy_.per_minute / 60000.0;
    std::lock_guard lock(mu_);
    maybe_sweep(now, per_ms);
    auto [it, fresh] = entries_.try_emplace(key, Bucket{policy_.burst, now});
    Bucket& b = it->second;
    if (!fresh) {
      const double elapsed = std::chrono::duration<double, std::milli>(now - b.at).count();
      b.tokens = std::min(policy_.burst, b.tokens + std::max(0.0, elapsed) * per_ms);
      b.at = now;
    }
    // The epsilons absorb floating-point dust: a bucket refilled for exactly one token's time
    // holds one token.
    if (b.tokens >= 1.0 - 1e-9) {
      b.tokens = std::max(0.0, b.tokens - 1.0);
      return {};
    }
    const double wait_ms = std::ceil((1.0 - b.tokens) / per_ms - 1e-6);
    return {false, milliseconds(std::max<std::int64_t>(1, static_cast<std::int64_t>(wait_ms)))};
  }

 private:
  struct Bucket {
    double tokens;
    TimePoint at;
  };

  // A bucket that has refilled completely is the same as no bucket.
  void maybe_sweep(TimePoint now, double per_ms) {
    if (++operations_ % kSweepEvery != 0)
      return;
    std::erase_if(entries_, [&](const auto& kv) {
      const double elapsed = std::chrono::duration<double, std::milli>(now - kv.second.at).count();
      return kv.second.tokens + elapsed * per_ms >= policy_.burst;
    });
  }

  RatePolicy policy_;
  const ThrottleClock clock_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> entries_;
  std::uint64_t operations_ = 0;
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

milliseconds LockoutPolicy::lockout_after(std::uint64_t failures) const {
  if (failures <= free_failures)
    return milliseconds(0);
  const std::uint64_t doublings = failures - free_failures - 1;
  milliseconds lockout = base_lockout;
  for (std::uint64_t i = 0; i < doublings && lockout < max_lockout; ++i)
    lockout *= 2;
  return std::min(lockout, max_lockout);
}

std::chrono::steady_clock::time_point steady_now() {
  return std::chrono::steady_clock::now();
}

std::unique_ptr<FailureThrottle> make_memory_failure_throttle(LockoutPolicy policy,
                                                              ThrottleClock clock) {
  return std::make_unique<MemoryFailureThrottle>(policy, std::move(clock));
}

std::unique_ptr<RateLimiter> make_memory_rate_limiter(RatePolicy policy, ThrottleClock clock) {
  return std::make_unique<MemoryRateLimiter>(policy, std::move(clock));
}

Throttles::Throttles(const ThrottleConfig& config, const ThrottleClock& clock)
    : sign_in_user(make_memory_failure_throttle(config.sign_in_user, clock)),
      sign_in_address(make_memory_failure_throttle(config.sign_in_address, clock)),
      sign_up(make_memory_rate_limiter(config.sign_up, clock)),
      orders(make_memory_rate_limiter(config.orders, clock)),
      trusted_proxies_(config.trusted_proxies) {}

std::string strip_port(std::string_view remote) {
  if (!remote.empty() && remote.front() == '[') {
    auto close = remote.find(']');
    return std::string(remote.substr(1, close == std::string_view::npos ? remote.npos : close - 1));
  }
  auto colon = remote.rfind(':');
  if (colon == std::string_view::npos)
    return std::string(remote);
  return std::string(remote.substr(0, colon));
}

std::string Throttles::client_address(const http::Request& request) const {
  std::string peer = strip_port(request.remote_address());
  auto trusted = [this](std::string_view a) { return trusted_proxies_.contains(a); };
  if (trusted_proxies_.empty() || !trusted(peer))
    return peer;
  auto forwarded = request.header("X-Forwarded-For");
  if (!forwarded)
    return peer;
  // Right to left: each trusted proxy appended the address it received the request from.
  std::string_view rest = *forwarded;
  while (!rest.empty()) {
    auto comma = rest.rfind(',');
    std::string_view hop = trim(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(0, comma);
    if (hop.empty())
      continue;
    if (!trusted(hop))
      return std::string(hop.substr(0, 100));
    peer = std::string(hop);
  }
  return peer;
}

std::string Throttles::prometheus() const {
  char text[1024];
  std::snprintf(
      text, sizeof text,
      "# HELP wonderland_throttled_requests_total Requests refused with 429 by a throttle.\n"
      "# TYPE wonderland_throttled_requests_total counter\n"
      "wonderland_throttled_requests_total{throttle=\"sign_in\"} %llu\n"
      "wonderland_throttled_requests_total{throttle=\"sign_up\"} %llu\n"
      "wonderland_throttled_requests_total{throttle=\"orders\"} %llu\n",
      static_cast<unsigned long long>(refused_sign_in.load()),
      static_cast<unsigned long long>(refused_sign_up.load()),
      static_cast<unsigned long long>(refused_orders.load()));
  return text;
}

}  // namespace wonderland::mediator
