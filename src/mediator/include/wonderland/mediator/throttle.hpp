// Throttles of the public API: how often one key (a username, a client address, a customer) may
// do something before the mediator answers 429 Too Many Requests with a Retry-After.
//
//   FailureThrottle (sign-in): a few free failures, then each further failure locks the key out
//     for twice as long as the one before (base, 2 base, 4 base ... up to a cap). An attempt is
//     counted as a failure when it is admitted, so parallel guesses cannot slip through while
//     the first ones are being checked; forgive() takes one back (a right password, a service
//     error), reset() forgets the key (a successful sign-in resets its username). A key with no
//     attempt for `forget_after` starts afresh.
//   RateLimiter (sign-up, order placement): a token bucket of `burst` tokens refilled at
//     `per_minute`.
//
// Both are interfaces: the in-memory implementations below serve one mediator; several mediators
// sharing their counters (through PostgreSQL, say) implement the same interfaces. They are
// thread-safe and take their clock as a function, so tests drive them with a fake one.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "wonderland/mediator/proxy_set.hpp"

namespace wonderland::http {
class Request;
}

namespace wonderland::mediator {

using ThrottleClock = std::function<std::chrono::steady_clock::time_point()>;

/// What a throttle decided about one attempt.
struct Verdict {
  bool allowed = true;
  /// When refused: how long until the key may try again (always > 0 then).
  std::chrono::milliseconds retry_after{0};
};

/// Exponential lock-out after failures. `max_lockout` 0 turns the throttle off.
struct LockoutPolicy {
  /// Failures in a row that cost nothing.
  unsigned free_failures = 5;
  /// The lock-out after the first failure beyond the free ones; it doubles with each further one.
  std::chrono::milliseconds base_lockout{1000};
  std::chrono::milliseconds max_lockout{60000};
  /// A key with no attempt for this long (and not locked) is forgotten.
  std::chrono::milliseconds forget_after{15 * 60 * 1000};

  bool enabled() const { return max_lockout.count() > 0 && base_lockout.count() > 0; }
  /// The lock-out that starts with the `failures`-th failure in a row (0 while still free).
  std::chrono::milliseconds lockout_after(std::uint64_t failures) const;
};

/// Token bucket. `per_minute` 0 turns the limiter off.
struct RatePolicy {
  double per_minute = 0;
  /// Largest number of attempts in a row (the bucket's size; at least 1).
  double burst = 1;

  bool enabled() const { return per_minute > 0; }
};

class FailureThrottle {
 public:
  virtual ~FailureThrottle() = default;
  /// Refuses while `key` is locked out; otherwise admits the attempt and counts it as a failure
  /// (which may start a lock-out for the next attempt).
  virtual Verdict attempt(const std::string& key) = 0;
  /// Takes back one failure counted by attempt(): the attempt did not fail.
  virtual void forgive(const std::string& key) = 0;
  /// Forgets every failure of `key`.
  virtual void reset(const std::string& key) = 0;
};

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  /// Takes a token from `key`'s bucket, or says how long until one is there.
  virtual Verdict acquire(const std::string& key) = 0;
};

/// The steady clock.
std::chrono::steady_clock::time_point steady_now();

std::unique_ptr<FailureThrottle> make_memory_failure_throttle(LockoutPolicy policy,
                                                              ThrottleClock clock = steady_now);
std::unique_ptr<RateLimiter> make_memory_rate_limiter(RatePolicy policy,
                                                      ThrottleClock clock = steady_now);

/// Failure counters shared by every mediator of one PostgreSQL journal (table
/// `throttle_failures` in its schema, see wonderland/workflow_pg/pg_lockouts.hpp), under
/// `scope`. Same behaviour as the in-memory throttle, with the database's clock.
///
/// When the database does not answer, the throttle neither fails open nor closed: it logs the
/// error (at most every 10 s) and counts in process memory meanwhile, so the budget is per
/// mediator again until the database is back. Failing closed (503 for every sign-in) would turn
/// a database outage into a sign-in outage for every customer, which an attacker who can load
/// the database could then cause at will; failing open would leave no limit at all on password
/// guessing for as long as the outage lasts. The in-process fallback keeps sign-in available and
/// bounds the guesses to the mediators' count times the usual budget, what a single machine
/// allows each mediator anyway.
std::unique_ptr<FailureThrottle> make_pg_failure_throttle(LockoutPolicy policy,
                                                          const std::string& url,
                                                          const std::string& schema,
                                                          const std::string& scope);

/// The mediator's throttle settings (README, "Configuration").
struct ThrottleConfig {
  /// WONDERLAND_SIGNIN_USER_FREE_FAILURES, WONDERLAND_SIGNIN_USER_MAX_LOCKOUT_MS.
  LockoutPolicy sign_in_user{5, std::chrono::milliseconds(1000), std::chrono::milliseconds(60000),
                             std::chrono::milliseconds(15 * 60 * 1000)};
  /// WONDERLAND_SIGNIN_ADDRESS_FREE_FAILURES, WONDERLAND_SIGNIN_ADDRESS_MAX_LOCKOUT_MS.
  LockoutPolicy sign_in_address{20, std::chrono::milliseconds(1000),
                                std::chrono::milliseconds(15 * 60 * 1000),
                                std::chrono::milliseconds(30 * 60 * 1000)};
  /// WONDERLAND_SIGNUP_PER_MINUTE, WONDERLAND_SIGNUP_BURST (per client address).
  RatePolicy sign_up{20, 10};
  /// WONDERLAND_ORDERS_PER_MINUTE, WONDERLAND_ORDERS_BURST (per customer).
  RatePolicy orders{60, 20};
  /// WONDERLAND_HTTP_TRUSTED_PROXIES: peers whose X-Forwarded-For names the client (addresses
  /// and CIDR networks, see ProxySet).
  std::vector<std::string> trusted_proxies;
};

/// The throttles of one mediator and what they refused.
class Throttles {
 public:
  explicit Throttles(const ThrottleConfig& config, const ThrottleClock& clock = steady_now);

  /// The client's IP address: the TCP peer, or, when the peer is a trusted proxy, the last
  /// address of X-Forwarded-For that is not a trusted proxy.
  std::string client_address(const http::Request& request) const;
  /// The Prometheus text of the refusal counters.
  std::string prometheus() const;

  std::unique_ptr<FailureThrottle> sign_in_user;
  std::unique_ptr<FailureThrottle> sign_in_address;
  std::unique_ptr<RateLimiter> sign_up;
  std::unique_ptr<RateLimiter> orders;

  std::atomic<std::uint64_t> refused_sign_in{0};
  std::atomic<std::uint64_t> refused_sign_up{0};
  std::atomic<std::uint64_t> refused_orders{0};

 private:
  ProxySet trusted_proxies_;
};

/// Puts the sign-in throttles (per username and per client address) in the shared PostgreSQL
/// journal (`make_pg_failure_throttle`, scopes `sign_in_user` and `sign_in_address`). The
/// sign-up and order rate limiters stay per mediator.
void share_sign_in_throttles(Throttles& throttles, const ThrottleConfig& config,
                             const std::string& url, const std::string& schema);

/// The IP address part of "address:port" ("[::1]:80" and "::1:80" give "::1").
std::string strip_port(std::string_view remote);

}  // namespace wonderland::mediator
