#include "wonderland/http/server.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "test_util.hpp"
#include "wonderland/http/fields.hpp"
#include "wonderland/testing/broker.hpp"

namespace wonderland::http {
namespace {

using namespace std::chrono_literals;
using testing::connected_client;
using testing::Worker;
using wonderland::testing::eventually;
using wonderland::testing::HttpClient;
using wonderland::testing::HttpResponse;
using wonderland::testing::Latch;

ServerOptions test_options() {
  ServerOptions o;
  o.threads = 2;
  return o;
}

// Routes shared by most tests.
void add_book_routes(Router& r, Worker& worker) {
  r.add(Method::get, "/api/books/{isbn}", [](const Request& req) {
    nlohmann::json tags = nlohmann::json::array();
    for (auto t : req.query_params().all("tag"))
      tags.push_back(t);
    return Response::json(
        {{"isbn", *req.param("isbn")}, {"q", req.query("q").value_or("")}, {"tags", tags}});
  });
  r.add(Method::post, "/api/echo",
        [](const Request& req) { return Response::text(req.body(), "application/octet-stream"); });
  r.add(Method::post, "/api/orders", [](const Request& req) {
    auto body = req.json_object();
    if (!body)
      return Response::error(body.error(), req.path());
    JsonFields f(*body);
    auto isbn = f.required_string("isbn", {.min_length = 10, .max_length = 17});
    auto quantity = f.required_integer("quantity", {.min = 1, .max = 10});
    if (!f.ok())
      return f.response(req.path());
    return Response::created("/api/orders/o-1", {{"isbn", isbn}, {"quantity", quantity}});
  });
  r.add(Method::get, "/throw/error", [](const Request&) -> Response {
    throw ErrorException(Error::of(codes::kNotFound, "no such thing"));
  });
  r.add(Method::get, "/throw/other",
        [](const Request&) -> Response { throw std::runtime_error("secret internals"); });
  r.add_async(Method::get, "/async/{n}", [&worker](const Request& req, Responder res) {
    std::string n(*req.param("n"));
    worker.submit([res, n] {
      auto tid = std::hash<std::thread::id>{}(std::this_thread::get_id());
      EXPECT_TRUE(res.respond(Response::json({{"n", n}, {"thread", tid}})));
      EXPECT_FALSE(res.respond(Response::json({{"n", "again"}})));
    });
  });
  r.add_async(Method::get, "/async-throw", [](const Request&, Responder) {
    throw ErrorException(Error::of(codes::kPermissionDenied, "not yours"));
  });
  r.add_async(Method::get, "/async-inline", [](const Request& req, Responder res) {
    res.respond(Response::json({{"path", req.path()}}));
  });
  r.add_async(Method::get, "/async-dropped", [](const Request&, Responder) {});
  r.add_async(Method::get, "/async-dropped-later",
              [&worker](const Request&, Responder res) { worker.submit([res] {}); });
}

class ServerTest : public ::testing::Test {
 protected:
  void start(ServerOptions options = test_options()) {
    server_ = std::make_unique<Server>(options);
    add_book_routes(server_->router(), worker_);
    server_->start();
    ASSERT_NE(server_->port(), 0);
  }
  Worker worker_;
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, RoutesWithParamsAndDecodedQuery) {
  start();
  auto c = connected_client(server_->port());
  auto r = c.get("/api/books/978%2D0%2F1?q=alice%20in+wonderland&tag=a&tag=b%26c");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  EXPECT_EQ(r.header("Cache-Control"), "no-store");
  EXPECT_EQ(r.header("Server"), "wonderland");
  EXPECT_FALSE(r.header("Date").empty());
  EXPECT_EQ(r.header("Content-Length"), std::to_string(r.body.size()));
  EXPECT_TRUE(r.keep_alive);
  auto j = r.json();
  EXPECT_EQ(j["isbn"], "978-0/1");
  EXPECT_EQ(j["q"], "alice in wonderland");
  EXPECT_EQ(j["tags"], nlohmann::json::parse(R"(["a","b&c"])"));
}

TEST_F(ServerTest, RoutingErrorsAreProblemJsonAndKeepTheConnection) {
  start();
  auto c = connected_client(server_->port());
  auto r = c.get("/nope?x=1");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
  auto j = r.json();
  EXPECT_EQ(j["type"], "about:blank");
  EXPECT_EQ(j["title"], "Not Found");
  EXPECT_EQ(j["status"], 404);
  EXPECT_EQ(j["instance"], "/nope");
  EXPECT_EQ(j["code"], "not_found");
  EXPECT_FALSE(j["detail"].get<std::string>().empty());

  r = c.request("DELETE", "/api/books/1");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("Allow"), "GET, HEAD, OPTIONS");
  EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
  EXPECT_EQ(r.json()["status"], 405);

  r = c.request("OPTIONS", "/api/books/1");
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.header("Allow"), "GET, HEAD, OPTIONS");

  r = c.get("/api/books/%zz");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
  r = c.get("/api/books/1?q=%g0");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.json()["detail"].get<std::string>().find("'q'"), std::string::npos);

  r = c.get("/api/books/1");  // still the same connection
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(server_->stats().open_connections, 1u);
}

TEST_F(ServerTest, BodyOverLimitIs413) {
  auto o = test_options();
  o.body_limit = 1024;
  start(o);
  {
    auto c = connected_client(server_->port());
    auto r = c.request("POST", "/api/echo", std::string(1024, 'a'));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body.size(), 1024u);
    r = c.request("POST", "/api/echo", std::string(4096, 'b'));
    EXPECT_EQ(r.status, 413);
    EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
    EXPECT_EQ(r.json()["status"], 413);
    EXPECT_FALSE(r.keep_alive);
    EXPECT_TRUE(c.wait_closed());
  }
  {
    // Chunked: the limit is noticed while reading.
    auto c = connected_client(server_->port());
    std::string chunk(3000, 'c');
    char size[16];
    std::snprintf(size, sizeof size, "%zx", chunk.size());
    c.send_raw("POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
               std::string(size) + "\r\n" + chunk + "\r\n0\r\n\r\n");
    auto r = c.read_reply();
    EXPECT_EQ(r.status, 413);
    EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
  }
}

TEST_F(ServerTest, JsonBodyAndFieldErrors) {
  start();
  auto c = connected_client(server_->port());
  auto r = c.request("POST", "/api/orders", R"({"isbn": "97801")");
  ASSERT_EQ(r.status, 400);
  auto j = r.json();
  EXPECT_EQ(j["code"], "invalid_argument");
  EXPECT_NE(j["detail"].get<std::string>().find("not valid JSON"), std::string::npos) << j;
  EXPECT_EQ(j["instance"], "/api/orders");

  r = c.request("POST", "/api/orders", "[1]");
  ASSERT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["detail"], "request body must be a JSON object, got an array");

  r = c.request("POST", "/api/orders", R"({"isbn": 97801, "quantity": 11})");
  ASSERT_EQ(r.status, 400);
  j = r.json();
  EXPECT_EQ(j["errors"], nlohmann::json::parse(R"([
      {"field": "isbn", "message": "must be a string"},
      {"field": "quantity", "message": "must be an integer between 1 and 10"}])"));

  r = c.request("POST", "/api/orders", R"({"isbn": "9780141439761", "quantity": 2})");
  ASSERT_EQ(r.status, 201);
  EXPECT_EQ(r.header("Location"), "/api/orders/o-1");
  EXPECT_EQ(r.json()["quantity"], 2);
}

TEST_F(ServerTest, HandlerExceptionsBecomeProblems) {
  start();
  auto c = connected_client(server_->port());
  auto r = c.get("/throw/error");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.json()["detail"], "no such thing");
  r = c.get("/throw/other");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.json()["detail"], "internal error");  // no internals leak
  r = c.get("/async-throw");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.json()["code"], "permission_denied");
}

TEST_F(ServerTest, AsyncHandlerCompletedFromAnotherThread) {
  start();
  auto c = connected_client(server_->port());
  auto worker_tid = std::hash<std::thread::id>{}(worker_.id());
  for (int i = 0; i < 20; ++i) {
    auto r = c.get("/async/" + std::to_string(i));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["n"], std::to_string(i));
    EXPECT_EQ(r.json()["thread"], worker_tid);
  }
  auto r = c.get("/async-inline");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["path"], "/async-inline");
}

TEST_F(ServerTest, DroppedResponderGives500) {
  start();
  auto c = connected_client(server_->port());
  auto r = c.get("/async-dropped");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
  r = c.get("/async-dropped-later");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(c.get("/async/1").status, 200);
}

TEST_F(ServerTest, AsyncHandlerTimeoutIs504) {
  auto o = test_options();
  o.response_timeout = 100ms;
  server_ = std::make_unique<Server>(o);
  std::promise<Responder> held;
  server_->router().add_async(Method::get, "/never",
                              [&held](const Request&, Responder r) { held.set_value(r); });
  server_->router().add(Method::get, "/ok", [](const Request&) { return Response::text("ok"); });
  server_->start();
  auto c = connected_client(server_->port());
  auto r = c.get("/never");
  EXPECT_EQ(r.status, 504);
  EXPECT_EQ(r.json()["code"], "deadline_exceeded");
  auto responder = held.get_future().get();
  EXPECT_TRUE(responder.done());
  EXPECT_FALSE(responder.respond(Response::text("late")));
  EXPECT_EQ(c.get("/ok").body, "ok");  // the connection goes on
}

TEST_F(ServerTest, HeadKeepsContentLengthWithoutBody) {
  start();
  auto c = connected_client(server_->port());
  auto get = c.get("/api/books/1");
  auto head = c.request("HEAD", "/api/books/1");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("Content-Length"), std::to_string(get.body.size()));
  EXPECT_TRUE(head.body.empty());
  EXPECT_EQ(c.get("/api/books/2").json()["isbn"], "2");  // no stray bytes on the connection
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  start();
  auto c = connected_client(server_->port());
  c.send_raw(
      "GET /async/first HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /api/books/second HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nthird");
  EXPECT_EQ(c.read_reply().json()["n"], "first");
  EXPECT_EQ(c.read_reply().json()["isbn"], "second");
  EXPECT_EQ(c.read_reply().body, "third");
}

TEST_F(ServerTest, ExpectContinue) {
  start();
  auto c = connected_client(server_->port());
  c.send_raw(
      "POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(c.read_until("\r\n\r\n"), "HTTP/1.1 100 Continue\r\n\r\n");
  c.send_raw("hello");
  auto r = c.read_reply();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello");
}

TEST_F(ServerTest, MalformedRequestsGet400Or431AndAreClosed) {
  auto o = test_options();
  o.header_limit = 1024;
  start(o);
  {
    auto c = connected_client(server_->port());
    c.send_raw("GET /api/books/1 HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n");
    auto r = c.read_reply();
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
    EXPECT_TRUE(c.wait_closed());
  }
  {
    auto c = connected_client(server_->port());
    c.send_raw("GET /api/books/1 HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4000, 'x') +
               "\r\n\r\n");
    auto r = c.read_reply();
    EXPECT_EQ(r.status, 431);
    EXPECT_TRUE(c.wait_closed());
  }
}

TEST_F(ServerTest, IdleConnectionsTimeOut) {
  auto o = test_options();
  o.idle_timeout = 200ms;
  start(o);
  auto c = connected_client(server_->port());
  EXPECT_EQ(c.get("/api/books/1").status, 200);
  EXPECT_TRUE(c.wait_closed(5s));
  EXPECT_TRUE(eventually([&] { return server_->stats().open_connections == 0; }, 5s));
}

TEST_F(ServerTest, ManyConcurrentKeepAliveConnections) {
  start();
  constexpr int kThreads = 8;
  constexpr int kClientsPerThread = 4;
  constexpr int kRequests = 25;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::unique_ptr<HttpClient>> clients;
      for (int i = 0; i < kClientsPerThread; ++i)
        clients.push_back(std::make_unique<HttpClient>(connected_client(server_->port())));
      for (int n = 0; n < kRequests; ++n) {
        for (int i = 0; i < kClientsPerThread; ++i) {
          std::string id = std::to_string(t) + "-" + std::to_string(i) + "-" + std::to_string(n);
          HttpResponse r =
              n % 2 == 0 ? clients[i]->get("/api/books/" + id) : clients[i]->get("/async/" + id);
          auto j = r.json();
          if (r.status == 200 && (j.contains("isbn") ? j["isbn"] : j["n"]) == id)
            ++ok;
        }
      }
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(ok.load(), kThreads * kClientsPerThread * kRequests);
  EXPECT_EQ(server_->stats().requests,
            static_cast<std::uint64_t>(kThreads * kClientsPerThread * kRequests));
}

TEST_F(ServerTest, GracefulStopFinishesRequestsInFlight) {
  server_ = std::make_unique<Server>(test_options());
  std::promise<Responder> held;
  server_->router().add_async(Method::get, "/slow",
                              [&held](const Request&, Responder r) { held.set_value(r); });
  server_->router().add(Method::get, "/ok", [](const Request&) { return Response::text("ok"); });
  server_->start();
  auto port = server_->port();

  auto idle = connected_client(port);
  EXPECT_EQ(idle.get("/ok").status, 200);
  auto busy = connected_client(port);
  busy.send_raw("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  auto responder = held.get_future().get();

  auto stopped = std::async(std::launch::async, [&] { server_->stop(); });
  EXPECT_TRUE(idle.wait_closed());  // idle keep-alive connections close at once
  EXPECT_TRUE(eventually(
      [&] {
        try {
          auto late = connected_client(port, 500ms);
          return false;
        } catch (const std::exception&) {
          return true;  // no longer accepting
        }
      },
      5s));
  EXPECT_EQ(stopped.wait_for(0ms), std::future_status::timeout);  // waits for /slow
  EXPECT_FALSE(responder.cancelled());
  EXPECT_TRUE(responder.respond(Response::text("finally")));
  auto r = busy.read_reply();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "finally");
  EXPECT_FALSE(r.keep_alive);
  EXPECT_TRUE(busy.wait_closed());
  ASSERT_EQ(stopped.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(server_->stats().open_connections, 0u);
}

TEST_F(ServerTest, StopTimeoutClosesStuckRequestsAndLateRespondersAreHarmless) {
  auto o = test_options();
  o.stop_timeout = 200ms;
  server_ = std::make_unique<Server>(o);
  std::promise<Responder> held;
  server_->router().add_async(Method::get, "/stuck",
                              [&held](const Request&, Responder r) { held.set_value(r); });
  server_->start();
  auto c = connected_client(server_->port());
  c.send_raw("GET /stuck HTTP/1.1\r\nHost: x\r\n\r\n");
  auto responder = held.get_future().get();
  auto t0 = std::chrono::steady_clock::now();
  server_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
  EXPECT_TRUE(c.wait_closed());
  EXPECT_TRUE(responder.cancelled());
  server_.reset();  // the Responder outlives the server
  std::thread other([&] { responder.respond(Response::text("too late")); });
  other.join();
}

TEST(Server, BindFailureThrows) {
  Server a;
  a.start();
  ServerOptions o;
  o.port = a.port();
  Server b(o);
  EXPECT_THROW(b.start(), std::system_error);
  ServerOptions bad;
  bad.address = "not-an-address";
  Server c(bad);
  EXPECT_THROW(c.start(), std::system_error);
  EXPECT_THROW(a.start(), std::logic_error);
}

}  // namespace
}  // namespace wonderland::http
