// The hardening headers on every kind of response, Retry-After on 429 and 503 problems, and the
// cap on open connections.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <vector>

#include "test_util.hpp"
#include "wonderland/common/ids.hpp"
#include "wonderland/http/server.hpp"
#include "wonderland/http/static_files.hpp"
#include "wonderland/testing/broker.hpp"

namespace wonderland::http {
namespace {

using namespace std::chrono_literals;
using testing::connected_client;
using wonderland::testing::eventually;
using wonderland::testing::HttpClient;
using wonderland::testing::HttpResponse;

void expect_hardened(const HttpResponse& reply, const std::string& what) {
  EXPECT_EQ(reply.header("Content-Security-Policy"), "default-src 'self'; frame-ancestors 'none'")
      << what;
  EXPECT_EQ(reply.header("X-Content-Type-Options"), "nosniff") << what;
  EXPECT_EQ(reply.header("Referrer-Policy"), "no-referrer") << what;
}

class HardeningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    web_ = std::filesystem::temp_directory_path() / ("wl-hardening-" + random_hex(6));
    std::filesystem::create_directories(web_);
    std::ofstream(web_ / "index.html") << "<!doctype html><title>t</title>";
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(web_);
  }

  void start(ServerOptions options = {}) {
    server_ = std::make_unique<Server>(options);
    auto& r = server_->router();
    r.add(Method::get, "/api/ok", [](const Request&) { return Response::json({{"ok", true}}); });
    r.add(Method::get, "/api/busy", [](const Request&) {
      return Response::error(Error{codes::kUnavailable, "the queue is full", true});
    });
    r.add(Method::get, "/api/slow-down", [](const Request&) {
      Problem p = Problem::of(StatusCode::too_many_requests, "too many", codes::kResourceExhausted);
      p.retry_after = Problem::seconds_ceil(6200ms);
      return Response::problem(p);
    });
    r.add_async(Method::get, "/api/events", [](const Request&, Responder res) {
      auto stream = res.start_events();
      stream->send("hello", "tick");
    });
    StaticFiles files({.root = web_});
    r.add(Method::get, "/{path...}", files.handler());
    server_->start();
  }

  std::filesystem::path web_;
  std::unique_ptr<Server> server_;
};

TEST_F(HardeningTest, EveryKindOfResponseCarriesTheHardeningHeaders) {
  start();
  auto client = connected_client(server_->port());
  HttpResponse json = client.get("/api/ok");
  EXPECT_EQ(json.status, 200);
  expect_hardened(json, "JSON");
  HttpResponse file = client.get("/index.html");
  EXPECT_EQ(file.status, 200);
  expect_hardened(file, "static file");
  HttpResponse missing = client.get("/nothing/here.css");
  EXPECT_EQ(missing.status, 404);
  expect_hardened(missing, "404 problem");
  HttpResponse wrong_method = client.request("DELETE", "/api/ok");
  EXPECT_EQ(wrong_method.status, 405);
  expect_hardened(wrong_method, "405 problem");

  auto events = connected_client(server_->port());
  events.send_raw("GET /api/events HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string head = events.read_until("\r\n\r\n");
  EXPECT_NE(head.find("Content-Security-Policy: default-src 'self'; frame-ancestors 'none'\r\n"),
            std::string::npos)
      << head;
  EXPECT_NE(head.find("X-Content-Type-Options: nosniff\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("Referrer-Policy: no-referrer\r\n"), std::string::npos) << head;
}

TEST_F(HardeningTest, ProblemsOf503And429SayWhenToComeBack) {
  start();
  auto client = connected_client(server_->port());
  HttpResponse busy = client.get("/api/busy");
  EXPECT_EQ(busy.status, 503);
  EXPECT_EQ(busy.header("Retry-After"), "1");
  EXPECT_EQ(busy.json().value("retry_after", 0), 1);
  HttpResponse slow = client.get("/api/slow-down");
  EXPECT_EQ(slow.status, 429);
  EXPECT_EQ(slow.header("Retry-After"), "7");  // 6.2 s rounded up
  EXPECT_EQ(slow.json().value("retry_after", 0), 7);
  HttpResponse ok = client.get("/api/ok");
  EXPECT_EQ(ok.header("Retry-After"), "");
  HttpResponse missing = client.get("/nothing/here.css");
  EXPECT_EQ(missing.header("Retry-After"), "");
  EXPECT_FALSE(missing.json().contains("retry_after"));
}

TEST(RetryAfterTest, OnlyWhereItMeansSomething) {
  EXPECT_EQ(Problem::of(StatusCode::service_unavailable, "x").effective_retry_after(), 1s);
  EXPECT_EQ(Problem::of(StatusCode::too_many_requests, "x").effective_retry_after(), 1s);
  EXPECT_EQ(Problem::of(StatusCode::not_found, "x").effective_retry_after(), std::nullopt);
  EXPECT_EQ(Problem::seconds_ceil(1ms), 1s);
  EXPECT_EQ(Problem::seconds_ceil(0ms), 1s);
  EXPECT_EQ(Problem::seconds_ceil(2000ms), 2s);
  EXPECT_EQ(Problem::seconds_ceil(2001ms), 3s);
  Response r = Response::error(Error{codes::kResourceExhausted, "slow down", true});
  EXPECT_EQ(r.status(), StatusCode::too_many_requests);
  EXPECT_EQ(r.header("Retry-After").value_or(""), "1");
}

TEST_F(HardeningTest, ConnectionsBeyondTheCapAreShedWith503) {
  ServerOptions options;
  options.max_connections = 3;
  start(options);
  // Three connections, each known to the server once it has answered on it.
  std::vector<std::unique_ptr<HttpClient>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<HttpClient>(connected_client(server_->port())));
    EXPECT_EQ(held.back()->get("/api/ok").status, 200);
  }
  EXPECT_EQ(server_->stats().open_connections, 3u);

  for (int i = 0; i < 5; ++i) {
    auto extra = connected_client(server_->port());
    std::string answer = extra.read_until("\r\n\r\n");
    EXPECT_EQ(answer.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u) << answer;
    EXPECT_NE(answer.find("Retry-After: 1\r\n"), std::string::npos) << answer;
    EXPECT_NE(answer.find("Connection: close\r\n"), std::string::npos) << answer;
    EXPECT_NE(answer.find("X-Content-Type-Options: nosniff\r\n"), std::string::npos) << answer;
    EXPECT_TRUE(extra.wait_closed());
  }
  EXPECT_EQ(server_->stats().shed_connections, 5u);
  EXPECT_EQ(server_->stats().open_connections, 3u);
  // The held connections still work.
  for (auto& c : held)
    EXPECT_EQ(c->get("/api/ok").status, 200);

  // Once one closes, a new connection is served again.
  held.pop_back();
  ASSERT_TRUE(eventually([&] { return server_->stats().open_connections == 2; }, 5s));
  auto again = connected_client(server_->port());
  EXPECT_EQ(again.get("/api/ok").status, 200);
}

TEST_F(HardeningTest, ZeroMeansNoCap) {
  ServerOptions options;
  options.max_connections = 0;
  start(options);
  std::vector<std::unique_ptr<HttpClient>> held;
  for (int i = 0; i < 50; ++i) {
    held.push_back(std::make_unique<HttpClient>(connected_client(server_->port())));
    EXPECT_EQ(held.back()->get("/api/ok").status, 200);
  }
  EXPECT_EQ(server_->stats().shed_connections, 0u);
}

}  // namespace
}  // namespace wonderland::http
