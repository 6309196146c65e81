// The sign-in lock-out and the token buckets on a fake clock, and the figures they give a
// guesser with the default policies.
#include "wonderland/mediator/throttle.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "wonderland/http/request.hpp"

namespace wonderland::mediator {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using TimePoint = std::chrono::steady_clock::time_point;

struct FakeClock {
  TimePoint now = TimePoint{} + 1000h;
  ThrottleClock fn() {
    return [this] { return now; };
  }
};

/// Attempts a guesser makes within `window` when it tries again as soon as it is allowed and
/// every guess is wrong.
int guesses_within(FailureThrottle& throttle, FakeClock& clock, milliseconds window) {
  const TimePoint end = clock.now + window;
  int admitted = 0;
  while (clock.now < end) {
    Verdict v = throttle.attempt("alice");
    if (v.allowed) {
      ++admitted;
    } else {
      EXPECT_GT(v.retry_after.count(), 0);
      clock.now += v.retry_after;
    }
  }
  return admitted;
}

TEST(LockoutPolicyTest, FreeFailuresThenDoublingUpToTheCap) {
  LockoutPolicy p{5, 1000ms, 60000ms, 15min};
  for (int n = 0; n <= 5; ++n)
    EXPECT_EQ(p.lockout_after(n), 0ms) << n;
  EXPECT_EQ(p.lockout_after(6), 1000ms);
  EXPECT_EQ(p.lockout_after(7), 2000ms);
  EXPECT_EQ(p.lockout_after(8), 4000ms);
  EXPECT_EQ(p.lockout_after(11), 32000ms);
  EXPECT_EQ(p.lockout_after(12), 60000ms);
  EXPECT_EQ(p.lockout_after(1000000), 60000ms);
}

TEST(FailureThrottleTest, LocksOutAfterTheFreeFailuresAndSaysForHowLong) {
  FakeClock clock;
  auto t = make_memory_failure_throttle({3, 1000ms, 8000ms, 15min}, clock.fn());
  for (int i = 0; i < 4; ++i)
    EXPECT_TRUE(t->attempt("bob").allowed) << i;
  // The fourth failure started a 1 s lock-out.
  Verdict v = t->attempt("bob");
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.retry_after, 1000ms);
  clock.now += 400ms;
  v = t->attempt("bob");
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.retry_after, 600ms);
  EXPECT_TRUE(t->attempt("carol").allowed) << "keys are independent";
  clock.now += 600ms;
  EXPECT_TRUE(t->attempt("bob").allowed);  // fifth failure: 2 s
  v = t->attempt("bob");
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.retry_after, 2000ms);
}

TEST(FailureThrottleTest, ResetForgetsAndForgiveTakesOneAttemptBack) {
  FakeClock clock;
  auto t = make_memory_failure_throttle({2, 1000ms, 8000ms, 15min}, clock.fn());
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(t->attempt("dave").allowed);
  EXPECT_FALSE(t->attempt("dave").allowed);
  t->reset("dave");
  EXPECT_TRUE(t->attempt("dave").allowed);

  // Admitted attempts that turn out not to be failures do not add up.
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(t->attempt("erin").allowed) << i;
    t->forgive("erin");
  }
  // Forgiving the attempt that started a lock-out lifts it.
  EXPECT_TRUE(t->attempt("erin").allowed);
  EXPECT_TRUE(t->attempt("erin").allowed);
  EXPECT_TRUE(t->attempt("erin").allowed);
  EXPECT_FALSE(t->attempt("erin").allowed);
  t->forgive("erin");
  EXPECT_TRUE(t->attempt("erin").allowed);
}

TEST(FailureThrottleTest, FailuresAreForgottenAfterAQuietPeriod) {
  FakeClock clock;
  auto t = make_memory_failure_throttle({1, 1000ms, 4000ms, 10min}, clock.fn());
  for (int i = 0; i < 2; ++i)
    EXPECT_TRUE(t->attempt("frank").allowed);
  clock.now += 1s;
  EXPECT_TRUE(t->attempt("frank").allowed);  // third failure: 2 s
  clock.now += 9min;
  EXPECT_TRUE(t->attempt("frank").allowed);  // still remembered: this one locks for 4 s
  EXPECT_FALSE(t->attempt("frank").allowed);
  clock.now += 10min;
  // Forgotten: a free failure again, and the next one too.
  EXPECT_TRUE(t->attempt("frank").allowed);
  EXPECT_TRUE(t->attempt("frank").allowed);
  EXPECT_FALSE(t->attempt("frank").allowed);
}

TEST(FailureThrottleTest, ZeroMaxLockoutTurnsItOff) {
  FakeClock clock;
  auto t = make_memory_failure_throttle({0, 1000ms, 0ms, 15min}, clock.fn());
  for (int i = 0; i < 1000; ++i)
    ASSERT_TRUE(t->attempt("gina").allowed);
}

TEST(FailureThrottleTest, ParallelAttemptsCannotSlipThrough) {
  auto t = make_memory_failure_throttle({5, 1000ms, 60000ms, 15min});
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 100; ++j) {
        if (t->attempt("harry").allowed)
          ++admitted;
      }
    });
  }
  for (auto& th : threads)
    th.join();
  // Five free failures and the one that started the lock-out.
  EXPECT_EQ(admitted.load(), 6);
}

// The figures of the README: attempts a guesser gets with the default policies.
TEST(ThrottleFiguresTest, WrongPasswordsPerMinutePerUsernameWithTheDefaults) {
  ThrottleConfig defaults;
  FakeClock clock;
  auto t = make_memory_failure_throttle(defaults.sign_in_user, clock.fn());
  // 5 free, then locks of 1, 2, 4, 8, 16 s: tries at 0 s (x6), 1, 3, 7, 15 and 31 s.
  EXPECT_EQ(guesses_within(*t, clock, 60s), 11);
  // Then one a minute (the 60 s cap).
  EXPECT_EQ(guesses_within(*t, clock, 60s), 1);
  EXPECT_EQ(guesses_within(*t, clock, 58min), 58);
}

TEST(ThrottleFiguresTest, WrongPasswordsPerMinutePerAddressWithTheDefaults) {
  ThrottleConfig defaults;
  FakeClock clock;
  auto t = make_memory_failure_throttle(defaults.sign_in_address, clock.fn());
  // 20 free, then 1, 2, 4, 8, 16 s: 26 in the first minute.
  EXPECT_EQ(guesses_within(*t, clock, 60s), 26);
  // Then locks of 32 s, 64 s ... 512 s, 900 s: 7 more in the rest of the first hour.
  EXPECT_EQ(guesses_within(*t, clock, 59min), 7);
  // And 4 an hour afterwards (the 15 min cap).
  EXPECT_EQ(guesses_within(*t, clock, 60min), 4);
}

TEST(RateLimiterTest, BurstThenTheRate) {
  FakeClock clock;
  auto t = make_memory_rate_limiter({60, 20}, clock.fn());
  for (int i = 0; i < 20; ++i)
    EXPECT_TRUE(t->acquire("c1").allowed) << i;
  Verdict v = t->acquire("c1");
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.retry_after, 1000ms);
  EXPECT_TRUE(t->acquire("c2").allowed) << "buckets are per key";
  clock.now += 250ms;
  v = t->acquire("c1");
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.retry_after, 750ms);
  clock.now += 750ms;
  EXPECT_TRUE(t->acquire("c1").allowed);
  EXPECT_FALSE(t->acquire("c1").allowed);
  // A quiet minute refills 60 tokens, but the bucket holds 20.
  clock.now += 60s;
  int allowed = 0;
  while (t->acquire("c1").allowed)
    ++allowed;
  EXPECT_EQ(allowed, 20);
}

TEST(RateLimiterTest, SteadyRateOverAnHour) {
  FakeClock clock;
  auto t = make_memory_rate_limiter({20, 10}, clock.fn());
  int allowed = 0;
  const TimePoint end = clock.now + 60min;
  while (clock.now < end) {
    Verdict v = t->acquire("10.0.0.1");
    if (v.allowed) {
      ++allowed;
    } else {
      clock.now += v.retry_after;
    }
  }
  // The burst, then one every 3 s (at 3 s, 6 s ... 3597 s).
  EXPECT_EQ(allowed, 10 + 1199);
}

TEST(RateLimiterTest, ZeroRateTurnsItOff) {
  auto t = make_memory_rate_limiter({0, 1});
  for (int i = 0; i < 1000; ++i)
    ASSERT_TRUE(t->acquire("x").allowed);
}

http::Request request_from(std::string remote, std::string forwarded = {}) {
  http::RawRequest raw(boost::beast::http::verb::post, "/api/sessions", 11);
  if (!forwarded.empty())
    raw.set("X-Forwarded-For", forwarded);
  return http::Request(std::move(raw), "/api/sessions", {}, {}, std::move(remote));
}

TEST(ClientAddressTest, ThePeerUnlessItIsATrustedProxy) {
  ThrottleConfig config;
  Throttles plain(config);
  EXPECT_EQ(plain.client_address(request_from("203.0.113.7:5123", "198.51.100.1")), "203.0.113.7");
  EXPECT_EQ(plain.client_address(request_from("::1:5123")), "::1");

  config.trusted_proxies = {"10.0.0.2", "10.0.0.3"};
  Throttles proxied(config);
  EXPECT_EQ(proxied.client_address(request_from("10.0.0.2:4000", "198.51.100.1, 10.0.0.3")),
            "198.51.100.1");
  // What the client itself wrote on the left is not believed beyond the first untrusted hop.
  EXPECT_EQ(proxied.client_address(request_from("10.0.0.2:4000", "1.2.3.4, 198.51.100.9")),
            "198.51.100.9");
  EXPECT_EQ(proxied.client_address(request_from("10.0.0.2:4000")), "10.0.0.2");
  EXPECT_EQ(proxied.client_address(request_from("203.0.113.7:80", "198.51.100.1")), "203.0.113.7");

  // A balancer named by its container network's range; hops inside it are skipped too.
  config.trusted_proxies = {"10.0.0.0/8"};
  Throttles networked(config);
  EXPECT_EQ(networked.client_address(request_from("10.89.0.12:4000", "198.51.100.1, 10.89.0.5")),
            "198.51.100.1");
  EXPECT_EQ(networked.client_address(request_from("203.0.113.7:80", "198.51.100.1")),
            "203.0.113.7");
}

}  // namespace
}  // namespace wonderland::mediator
