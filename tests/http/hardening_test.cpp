// The hardening headers on every kind of response, Retry-After on 429 and 503 problems, and the
// cap on open connections.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <vector>

#include "client.hpp"
#include "wonderland/common/ids.hpp"
#include "wonderland/http/server.hpp"
#include "wonderland/http/static_files.hpp"
#include "wonderland/testing/broker.hpp"

namespace wonderland::http {
namespace {

using namespace std::chrono_literals;
using testing::Client;
using testing::Reply;
using wonderland::testing::eventually;
using bverb = boost::beast::http::verb;

void expect_hardened(const Reply& reply, const std::string& what) {
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
      Problem p = Problem::of(Status::too_many_requests, "too many", codes::kResourceExhausted);
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
  Client client(server_->port());
  Reply json = client.get("/api/ok");
  EXPECT_EQ(json.status, 200u);
  expect_hardened(json, "JSON");
  Reply file = client.get("/index.html");
  EXPECT_EQ(file.status, 200u);
  expect_hardened(file, "static file");
  Reply missing = client.get("/nothing/here.css");
  EXPECT_EQ(missing.status, 404u);
  expect_hardened(missing, "404 problem");
  Reply wrong_method = client.request(bverb::delete_, "/api/ok");
  EXPECT_EQ(wrong_method.status, 405u);
  expect_hardened(wrong_method, "405 problem");

  Client events(server_->port());
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
  Client client(server_->port());
  Reply busy = client.get("/api/busy");
  EXPECT_EQ(busy.status, 503u);
  EXPECT_EQ(busy.header("Retry-After"), "1");
  EXPECT_EQ(busy.json().value("retry_after", 0), 1);
  Reply slow = client.get("/api/slow-down");
  EXPECT_EQ(slow.status, 429u);
  EXPECT_EQ(slow.header("Retry-After"), "7");  // 6.2 s rounded up
  EXPECT_EQ(slow.json().value("retry_after", 0), 7);
  Reply ok = client.get("/api/ok");
  EXPECT_EQ(ok.header("Retry-After"), "");
  Reply missing = client.get("/nothing/here.css");
  EXPECT_EQ(missing.header("Retry-After"), "");
  EXPECT_FALSE(missing.json().contains("retry_after"));
}

TEST(RetryAfterTest, OnlyWhereItMeansSomething) {
  EXPECT_EQ(Problem::of(Status::service_unavailable, "x").effective_retry_after(), 1s);
  EXPECT_EQ(Problem::of(Status::too_many_requests, "x").effective_retry_after(), 1s);
  EXPECT_EQ(Problem::of(Status::not_found, "x").effective_retry_after(), std::nullopt);
  EXPECT_EQ(Problem::seconds_ceil(1ms), 1s);
  EXPECT_EQ(Problem::seconds_ceil(0ms), 1s);
  EXPECT_EQ(Problem::seconds_ceil(2000ms), 2s);
  EXPECT_EQ(Problem::seconds_ceil(2001ms), 3s);
  Response r = Response::error(Error{codes::kResourceExhausted, "slow down", true});
  EXPECT_EQ(r.status(), Status::too_many_requests);
  EXPECT_EQ(r.header("Retry-After").value_or(""), "1");
}

TEST_F(HardeningTest, ConnectionsBeyondTheCapAreShedWith503) {
  ServerOptions options;
  options.max_connections = 3;
  start(options);
  // Three connections, each known to the server once it has answered on it.
  std::vector<std::unique_ptr<Client>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<Client>(server_->port()));
    EXPECT_EQ(held.back()->get("/api/ok").status, 200u);
  }
  EXPECT_EQ(server_->stats().open_connections, 3u);

  for (int i = 0; i < 5; ++i) {
    Client extra(server_->port());
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
    EXPECT_EQ(c->get("/api/ok").status, 200u);

  // Once one closes, a new connection is served again.
  held.pop_back();
  ASSERT_TRUE(eventually([&] { return server_->stats().open_connections == 2; }, 5s));
  Client again(server_->port());
  EXPECT_EQ(again.get("/api/ok").status, 200u);
}

TEST_F(HardeningTest, ZeroMeansNoCap) {
  ServerOptions options;
  options.max_connections = 0;
  start(options);
  std::vector<std::unique_ptr<Client>> held;
  for (int i = 0; i < 50; ++i) {
    held.push_back(std::make_unique<Client>(server_->port()));
    EXPECT_EQ(held.back()->get("/api/ok").status, 200u);
  }
  EXPECT_EQ(server_->stats().shed_connections, 0u);
}

}  // namespace
}  // namespace wonderland::http
