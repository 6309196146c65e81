// End-to-end tests of the throttles and the HTTP hardening: the real binaries with tight limits
// (short lock-outs so that waiting for one is quick), driven over real HTTP.
//
// The mediator trusts 127.0.0.1 as a proxy, so each test names its own client address in
// X-Forwarded-For and the per-address throttles of one test do not reach another.
// The operator token is left for the mediator to generate: it must land in a 0600 file and in no
// log.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "wonderland/common/ids.hpp"
#include "wonderland/testing/http_client.hpp"
#include "wonderland/testing/system.hpp"
#include "wonderland/testing/system_suite.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using wonderland::testing::HttpResponse;
using wonderland::testing::SystemOptions;
using wonderland::testing::SystemSuite;
using Clock = std::chrono::steady_clock;

constexpr char kPassword[] = "correct horse battery";
constexpr int kUserFreeFailures = 3;
constexpr int kAddressFreeFailures = 10;
constexpr int kSignUpBurst = 3;
constexpr int kOrderBurst = 3;

const wonderland::testing::CatalogueBook kTitle{"9780000000996", "Throttle Test", 1000, 1000};

std::map<std::string, std::string> from(const std::string& address) {
  return {{"X-Forwarded-For", address}};
}

/// Checks a 429: problem+json, Retry-After in whole seconds, the same figure in the body.
int expect_too_many(const HttpResponse& r) {
  EXPECT_EQ(r.status, 429) << describe(r);
  EXPECT_EQ(r.header("content-type").rfind("application/problem+json", 0), 0u) << describe(r);
  const std::string after = r.header("retry-after");
  EXPECT_FALSE(after.empty()) << "no Retry-After: " << describe(r);
  int seconds = after.empty() ? 0 : std::stoi(after);
  EXPECT_GE(seconds, 1);
  EXPECT_EQ(r.json().value("retry_after", -1), seconds) << describe(r);
  EXPECT_EQ(r.json().value("code", ""), "resource_exhausted") << describe(r);
  return seconds;
}

class ThrottleE2e : public SystemSuite<ThrottleE2e> {
 protected:
  static void SetUpTestSuite() {
    SystemOptions options{
        .work_dir = WONDERLAND_E2E_WORK_DIR, .catalogue = {kTitle}, .admin_token = ""};
    options.tag = "thr";
    options.env["mediator"] = {
        {"WONDERLAND_HTTP_TRUSTED_PROXIES", "127.0.0.1"},
        {"WONDERLAND_SIGNIN_USER_FREE_FAILURES", std::to_string(kUserFreeFailures)},
        {"WONDERLAND_SIGNIN_ADDRESS_FREE_FAILURES", std::to_string(kAddressFreeFailures)},
        {"WONDERLAND_SIGNIN_LOCKOUT_MS", "1000"},
        {"WONDERLAND_SIGNIN_USER_MAX_LOCKOUT_MS", "2000"},
        {"WONDERLAND_SIGNIN_ADDRESS_MAX_LOCKOUT_MS", "2000"},
        {"WONDERLAND_SIGNUP_PER_MINUTE", "6"},
        {"WONDERLAND_SIGNUP_BURST", std::to_string(kSignUpBurst)},
        {"WONDERLAND_ORDERS_PER_MINUTE", "6"},
        {"WONDERLAND_ORDERS_BURST", std::to_string(kOrderBurst)},
    };
    start_system(std::move(options));
  }

  static void TearDownTestSuite() { stop_system(); }

  /// Signs a new customer up from `address`; returns the username.
  std::string sign_up(const std::string& tag, const std::string& address) {
    std::string username = "thr_" + tag + "_" + wonderland::fast_random_hex(4);
    HttpResponse r = http().post_json("/api/customers",
                                      json{{"username", username},
                                           {"email", username + "@example.com"},
                                           {"password", kPassword},
                                           {"first_name", "Test"},
                                           {"last_name", "Throttle"}},
                                      {}, from(address));
    if (r.status != 201)
      throw std::runtime_error("sign-up of " + username + ": " + describe(r));
    return username;
  }

  HttpResponse sign_in(const std::string& username, const std::string& password,
                       const std::string& address) {
    return http().post_json("/api/sessions", json{{"username", username}, {"password", password}},
                            {}, from(address));
  }

  static std::string admin_token() {
    std::ifstream in(store_->dir() / "admin-token");
    std::string token;
    std::getline(in, token);
    return token;
  }
};

TEST_F(ThrottleE2e, WrongPasswordsLockTheUsernameOutThenTheRightOneWorksOnceTheWindowPasses) {
  const std::string address = "198.51.100.11";
  const std::string user = sign_up("user", address);

  // The free failures, and the one that starts the lock-out, are answered by the customer
  // service; the next one is refused before it.
  int unauthorized = 0;
  HttpResponse r;
  for (int i = 0; i < 20; ++i) {
    r = sign_in(user, "wrong password", address);
    if (r.status != 401)
      break;
    ++unauthorized;
  }
  EXPECT_EQ(unauthorized, kUserFreeFailures + 1);
  EXPECT_EQ(expect_too_many(r), 1);
  EXPECT_NE(r.json().value("detail", "").find("username"), std::string::npos) << describe(r);

  // Locked: the right password is refused too, whatever the case of the username.
  r = sign_in(user, kPassword, address);
  expect_too_many(r);
  r = sign_in("THR_" + user.substr(4), kPassword, address);
  expect_too_many(r);

  // Once the window passes, one more wrong guess is allowed, and the lock-out doubles.
  auto wait_until_admitted = [&](const std::string& password, int retry_after) {
    const auto started = Clock::now();
    HttpResponse last;
    while (Clock::now() - started < std::chrono::seconds(retry_after) + 3s) {
      last = sign_in(user, password, address);
      if (last.status != 429)
        break;
      std::this_thread::sleep_for(100ms);
    }
    EXPECT_LE(Clock::now() - started, std::chrono::seconds(retry_after) + 500ms);
    return last;
  };
  r = wait_until_admitted("wrong again", 1);
  EXPECT_EQ(r.status, 401) << describe(r);
  r = sign_in(user, kPassword, address);
  EXPECT_EQ(expect_too_many(r), 2) << "the second lock-out lasts twice as long";

  r = wait_until_admitted(kPassword, 2);
  ASSERT_EQ(r.status, 201) << describe(r);
  EXPECT_FALSE(r.json().value("token", "").empty());

  // A successful sign-in resets the username's count: wrong passwords are free again.
  for (int i = 0; i < kUserFreeFailures; ++i) {
    EXPECT_EQ(sign_in(user, "wrong", address).status, 401) << i;
  }
}

TEST_F(ThrottleE2e, WrongPasswordsFromOneAddressLockTheAddressOut) {
  const std::string address = "198.51.100.22";
  const std::string other_address = "198.51.100.23";
  const std::string victim = sign_up("victim", other_address);

  // A different (unknown) username each time: only the address throttle can stop it.
  int unauthorized = 0;
  HttpResponse r;
  for (int i = 0; i < 40; ++i) {
    r = sign_in("nobody_" + wonderland::fast_random_hex(4), "guess", address);
    if (r.status != 401)
      break;
    ++unauthorized;
  }
  EXPECT_EQ(unauthorized, kAddressFreeFailures + 1);
  expect_too_many(r);
  EXPECT_NE(r.json().value("detail", "").find("address"), std::string::npos) << describe(r);
  // Every sign-in from that address waits, a right one too; other addresses are not affected.
  expect_too_many(sign_in(victim, kPassword, address));
  EXPECT_EQ(sign_in(victim, kPassword, other_address).status, 201);
}

TEST_F(ThrottleE2e, SignUpFloodFromOneAddressGets429) {
  const std::string address = "198.51.100.33";
  int created = 0;
  HttpResponse r;
  for (int i = 0; i < 20; ++i) {
    std::string username = "thr_flood_" + wonderland::fast_random_hex(4);
    r = http().post_json("/api/customers",
                         json{{"username", username},
                              {"email", username + "@example.com"},
                              {"password", kPassword},
                              {"first_name", "Flood"},
                              {"last_name", "Test"}},
                         {}, from(address));
    if (r.status != 201)
      break;
    ++created;
  }
  EXPECT_EQ(created, kSignUpBurst);
  // 6 a minute: the next token comes within 10 s.
  int after = expect_too_many(r);
  EXPECT_LE(after, 10);
  EXPECT_NO_THROW(sign_up("other", "198.51.100.34")) << "another address is not throttled";
}

TEST_F(ThrottleE2e, OrderFloodForOneCustomerGets429) {
  const std::string address = "198.51.100.44";
  const std::string user = sign_up("orders", address);
  HttpResponse session = sign_in(user, kPassword, address);
  ASSERT_EQ(session.status, 201) << describe(session);
  const std::string token = session.json().value("token", "");
  ASSERT_EQ(
      http()
          .put_json(std::string("/api/basket/items/") + kTitle.isbn, json{{"quantity", 1}}, token)
          .status,
      200);
  json payment{{"method", "paypal"}, {"paypal_email", "buyer@example.com"}};
  int answered = 0;
  HttpResponse r;
  for (int i = 0; i < 20; ++i) {
    r = http().post_json("/api/orders", json{{"payment", payment}}, token,
                         {{"Idempotency-Key", wonderland::random_hex(16)}});
    if (r.status == 429)
      break;
    if (i == 0) {
      EXPECT_EQ(r.status, 202) << describe(r);
    }
    ++answered;
  }
  EXPECT_EQ(answered, kOrderBurst);
  int after = expect_too_many(r);
  EXPECT_LE(after, 10);

  // The counters show in the metrics.
  const std::string admin = admin_token();
  HttpResponse metrics = http().get("/metrics", admin);
  ASSERT_EQ(metrics.status, 200) << describe(metrics);
  EXPECT_NE(metrics.body.find("wonderland_throttled_requests_total{throttle=\"orders\"}"),
            std::string::npos);
  EXPECT_EQ(metrics.body.find("wonderland_throttled_requests_total{throttle=\"orders\"} 0\n"),
            std::string::npos);
}

TEST_F(ThrottleE2e, ResponsesCarryTheHardeningHeaders) {
  for (const std::string target : {"/api/books", "/", "/api/nothing", "/healthz"}) {
    HttpResponse r = http().get(target);
    EXPECT_EQ(r.header("content-security-policy"), "default-src 'self'; frame-ancestors 'none'")
        << target << " " << describe(r);
    EXPECT_EQ(r.header("x-content-type-options"), "nosniff") << target;
    EXPECT_EQ(r.header("referrer-policy"), "no-referrer") << target;
  }
}

TEST_F(ThrottleE2e, TheGeneratedOperatorTokenIsInAPrivateFileAndInNoLog) {
  const fs::path file = store().dir() / "admin-token";
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0) << file;
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string token = admin_token();
  ASSERT_GE(token.size(), 32u);
  EXPECT_EQ(http().get("/api/workflows", token).status, 200);
  EXPECT_EQ(http().get("/api/workflows", "not-the-token").status, 403);

  // Every log the run wrote: the services' own files and the log store's CSV files.
  auto logs = [&] {
    std::map<fs::path, std::string> out;
    for (const auto& entry : fs::recursive_directory_iterator(store().dir())) {
      const std::string ext = entry.path().extension().string();
      if (!entry.is_regular_file() || (ext != ".log" && ext != ".csv"))
        continue;
      std::ifstream in(entry.path(), std::ios::binary);
      std::stringstream text;
      text << in.rdbuf();
      out[entry.path()] = text.str();
    }
    return out;
  };
  // Wait until the log store holds the mediator's start (logged after the token was made).
  const auto deadline = Clock::now() + 15s;
  auto stored = [&] {
    for (const auto& [path, text] : logs()) {
      if (path.extension() == ".csv" && text.find("mediator listening on") != std::string::npos)
        return true;
    }
    return false;
  };
  while (!stored() && Clock::now() < deadline)
    std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(stored()) << "the mediator's start never reached the log store";
  int scanned = 0;
  for (const auto& [path, text] : logs()) {
    ++scanned;
    EXPECT_EQ(text.find(token), std::string::npos) << "the operator token is in " << path;
    if (path.filename() == "mediator.log") {
      EXPECT_NE(text.find(file.string()), std::string::npos) << "the mediator names the file";
    }
  }
  EXPECT_GE(scanned, 2);
}

}  // namespace
