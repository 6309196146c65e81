// The sign-in throttles shared through PostgreSQL (make_pg_failure_throttle): two throttles on one
// schema, as two mediators have them, enforce one budget; old counters expire and are swept;
// with the database out of reach, or blackholed, the throttle counts in process memory without
// holding a sign-in for long.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <pqxx/pqxx>
#include <stdexcept>
#include <string>
#include <thread>

#include "wonderland/mediator/throttle.hpp"
#include "wonderland/testing/broker.hpp"
#include "wonderland/testing/postgres.hpp"
#include "wonderland/workflow_pg/pg_lockouts.hpp"

namespace wonderland::mediator {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

/// Two free failures, then 200 ms doubling up to 1 s; forgotten after `forget`.
LockoutPolicy policy(milliseconds forget = 60s) {
  return LockoutPolicy{2, 200ms, 1000ms, forget};
}

/// Three attempts at `key`, on `first`, `second` and `first`, are admitted (two free failures,
/// the third starts a lock-out); returns the verdict on a fourth, on `second`.
Verdict fourth_after_three(FailureThrottle& first, FailureThrottle& second,
                           const std::string& key) {
  EXPECT_TRUE(first.attempt(key).allowed);
  EXPECT_TRUE(second.attempt(key).allowed);
  EXPECT_TRUE(first.attempt(key).allowed);
  return second.attempt(key);
}

class SharedThrottle : public ::testing::Test {
 protected:
  std::unique_ptr<FailureThrottle> open(const std::string& scope, milliseconds forget = 60s) {
    return make_pg_failure_throttle(policy(forget), schema_.url(), schema_.name(), scope);
  }
  std::int64_t rows() {
    pqxx::connection conn(schema_.url());
    pqxx::work tx(conn);
    auto rows =
        tx.exec("SELECT count(*) FROM " + tx.quote_name(schema_.name()) + ".throttle_failures");
    return rows[0][0].as<std::int64_t>();
  }

  testing::ScopedSchema schema_{"throttle"};
};

TEST_F(SharedThrottle, TwoMediatorsShareOneBudget) {
  auto a = open("sign_in_user");
  auto b = open("sign_in_user");
  // Three attempts in all are admitted (two free, the third starts a lock-out), wherever they
  // land; each mediator alone would have admitted three.
  Verdict refused = fourth_after_three(*a, *b, "alice");
  EXPECT_FALSE(refused.allowed);
  EXPECT_GT(refused.retry_after, 0ms);
  EXPECT_LE(refused.retry_after, 200ms);
  EXPECT_FALSE(a->attempt("alice").allowed);
  // Other keys and other scopes have budgets of their own.
  EXPECT_TRUE(b->attempt("bob").allowed);
  EXPECT_TRUE(open("sign_in_address")->attempt("alice").allowed);
  // After the lock-out the next failure locks out twice as long.
  std::this_thread::sleep_for(refused.retry_after + 20ms);
  EXPECT_TRUE(b->attempt("alice").allowed);
  Verdict longer = a->attempt("alice");
  EXPECT_FALSE(longer.allowed);
  EXPECT_GT(longer.retry_after, 200ms);
  // A successful sign-in on one mediator resets the key for all (asynchronously).
  a->reset("alice");
  EXPECT_TRUE(testing::eventually([&] { return rows() == 2; }, 5s));
  EXPECT_TRUE(b->attempt("alice").allowed);
}

TEST_F(SharedThrottle, ForgiveTakesOneFailureBack) {
  auto a = open("sign_in_user");
  auto b = open("sign_in_user");
  EXPECT_TRUE(a->attempt("carol").allowed);
  EXPECT_TRUE(a->attempt("carol").allowed);
  b->forgive("carol");  // a right password, or a service error: not a failure
  std::this_thread::sleep_for(200ms);
  EXPECT_TRUE(b->attempt("carol").allowed);  // second failure, still free
  EXPECT_TRUE(a->attempt("carol").allowed);  // third: the lock-out starts
  EXPECT_FALSE(b->attempt("carol").allowed);
}

TEST_F(SharedThrottle, OldCountersExpireAndAreSwept) {
  auto a = open("sign_in_user", 300ms);
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(a->attempt("dave").allowed);
  EXPECT_FALSE(a->attempt("dave").allowed);
  std::this_thread::sleep_for(500ms);  // past the lock-out and `forget_after`
  // Counted from one again: two more free failures before a lock-out.
  EXPECT_TRUE(a->attempt("dave").allowed);
  EXPECT_TRUE(a->attempt("dave").allowed);
  EXPECT_TRUE(a->attempt("dave").allowed);
  EXPECT_FALSE(a->attempt("dave").allowed);

  auto store = workflow::PgLockouts::create({.url = schema_.url(),
                                             .schema = schema_.name(),
                                             .scope = "sign_in_user",
                                             .free_failures = 2,
                                             .base_lockout = 200ms,
                                             .max_lockout = 1000ms,
                                             .forget_after = 300ms});
  ASSERT_TRUE(store.ok()) << store.error().message;
  auto swept = (*store)->sweep();
  ASSERT_TRUE(swept.ok()) << swept.error().message;
  EXPECT_EQ(*swept, 0);  // dave is locked
  EXPECT_EQ(rows(), 1);
  std::this_thread::sleep_for(500ms);
  swept = (*store)->sweep();
  ASSERT_TRUE(swept.ok()) << swept.error().message;
  EXPECT_EQ(*swept, 1);
  EXPECT_EQ(rows(), 0);
}

TEST(SharedThrottleOutOfReach, CountsInThisMediatorMeanwhile) {
  const std::string url = "postgresql://wonderland@127.0.0.1:1/wonderland";
  auto store = workflow::PgLockouts::create({.url = url, .scope = "sign_in_user"});
  ASSERT_TRUE(store.ok());
  auto refused = (*store)->attempt("erin");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, codes::kUnavailable) << refused.error().message;

  // Neither open nor closed: the usual budget, per mediator.
  auto a = make_pg_failure_throttle(policy(), url, "", "sign_in_user");
  Verdict v = fourth_after_three(*a, *a, "erin");
  EXPECT_FALSE(v.allowed);
  EXPECT_GT(v.retry_after, 0ms);
  a->reset("erin");
  EXPECT_TRUE(a->attempt("erin").allowed);
}

/// A TCP port that takes connections into its backlog and never answers: a database behind a
/// blackholing network, where a client waits for its connect timeout.
class Blackhole {
 public:
  Blackhole() : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(fd_, 64) != 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      throw std::runtime_error("cannot open a listening socket");
    port_ = ntohs(addr.sin_port);
  }
  ~Blackhole() { ::close(fd_); }
  Blackhole(const Blackhole&) = delete;
  Blackhole& operator=(const Blackhole&) = delete;

  std::string url() const {
    return "postgresql://wonderland@127.0.0.1:" + std::to_string(port_) + "/wonderland";
  }

 private:
  int fd_;
  int port_ = 0;
};

TEST(SharedThrottleOutOfReach, ABlackholedDatabaseHoldsASignInBrieflyOncePerBackOff) {
  Blackhole hole;
  auto a = make_pg_failure_throttle(policy(), hole.url(), "", "sign_in_user");
  const auto start = std::chrono::steady_clock::now();
  // The first attempt waits briefly for the shared counters, then every attempt counts in this
  // mediator for the back-off: the budget still holds. Waiting for the connect timeout (5 s)
  // on each attempt, as a synchronous statement would, takes 20 s.
  Verdict v = fourth_after_three(*a, *a, "frank");
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(v.allowed);
  EXPECT_LT(took, 2s) << std::chrono::duration_cast<milliseconds>(took).count() << " ms";
}

}  // namespace
}  // namespace wonderland::mediator
