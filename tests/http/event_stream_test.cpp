#include "wonderland/http/event_stream.hpp"

#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <thread>

#include "test_util.hpp"
#include "wonderland/http/server.hpp"
#include "wonderland/testing/broker.hpp"

namespace wonderland::http {
namespace {

using namespace std::chrono_literals;
using testing::connected_client;
using wonderland::testing::eventually;
using wonderland::testing::HttpClient;
using wonderland::testing::Latch;

constexpr std::string_view kOpen =
    "GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n";

// A server with one event route; the streams it opened are kept here.
class EventStreamTest : public ::testing::Test {
 protected:
  void start(EventStreamOptions options = {}, ServerOptions server_options = {}) {
    server_ = std::make_unique<Server>(server_options);
    server_->router().add_async(Method::get, "/events",
                                [this, options](const Request&, Responder r) {
                                  auto stream = r.start_events(options);
                                  stream->on_close([this] { closed_.add(); });
                                  {
                                    std::lock_guard lock(mu_);
                                    streams_.push_back(stream);
                                  }
                                  opened_.add();
                                });
    server_->start();
  }
  std::shared_ptr<EventStream> stream(std::size_t i) {
    std::lock_guard lock(mu_);
    return streams_.at(i);
  }
  /// Connects and reads the response head.
  std::unique_ptr<HttpClient> open(std::string_view extra_headers = {}) {
    auto c = std::make_unique<HttpClient>(connected_client(server_->port()));
    c->send_raw(std::string(kOpen) + std::string(extra_headers) + "\r\n");
    head_ = c->read_until("\r\n\r\n");
    return c;
  }

  std::unique_ptr<Server> server_;
  std::mutex mu_;
  std::vector<std::shared_ptr<EventStream>> streams_;
  Latch opened_;
  Latch closed_;
  std::string head_;
};

TEST_F(EventStreamTest, DeliversEventsSentFromOtherThreads) {
  EventStreamOptions o;
  o.retry = 1500ms;
  start(o);
  auto c = open("Last-Event-ID: 7\r\n");
  EXPECT_EQ(head_.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head_;
  EXPECT_NE(head_.find("Content-Type: text/event-stream\r\n"), std::string::npos);
  EXPECT_NE(head_.find("Cache-Control: no-cache\r\n"), std::string::npos);
  EXPECT_EQ(head_.find("Content-Length"), std::string::npos);
  EXPECT_EQ(c->read_until("\n\n"), "retry: 1500\n\n");
  ASSERT_TRUE(opened_.wait_for(1, 5s));
  auto s = stream(0);
  EXPECT_EQ(s->last_event_id(), "7");

  std::thread producer([s] {
    EXPECT_TRUE(s->send("status", "line 1\nline 2\r\nline 3", "8"));
    EXPECT_TRUE(s->send_json("order", {{"id", "o-1"}, {"state", "shipped"}}));
    EXPECT_TRUE(s->send("", "plain"));
    EXPECT_TRUE(s->send("bad\nname", "x", "9\r"));
  });
  producer.join();
  EXPECT_EQ(c->read_until("\n\n"),
            "event: status\ndata: line 1\ndata: line 2\ndata: line 3\nid: 8\n\n");
  EXPECT_EQ(c->read_until("\n\n"),
            "event: order\ndata: {\"id\":\"o-1\",\"state\":\"shipped\"}\n\n");
  EXPECT_EQ(c->read_until("\n\n"), "data: plain\n\n");
  EXPECT_EQ(c->read_until("\n\n"), "event: badname\ndata: x\nid: 9\n\n");
  EXPECT_EQ(server_->stats().event_streams, 1u);
}

TEST_F(EventStreamTest, ManyEventsArriveInOrder) {
  start();
  auto c = open();
  ASSERT_TRUE(opened_.wait_for(1, 5s));
  auto s = stream(0);
  std::thread producer([s] {
    for (int i = 0; i < 500; ++i)
      ASSERT_TRUE(s->send("n", std::to_string(i)));
  });
  for (int i = 0; i < 500; ++i) {
    ASSERT_EQ(c->read_until("\n\n"), "event: n\ndata: " + std::to_string(i) + "\n\n");
  }
  producer.join();
}

TEST_F(EventStreamTest, SendsHeartbeats) {
  EventStreamOptions o;
  o.heartbeat = 50ms;
  start(o);
  auto c = open();
  EXPECT_EQ(c->read_until("\n\n", 5s), ": keep-alive\n\n");
  EXPECT_EQ(c->read_until("\n\n", 5s), ": keep-alive\n\n");
}

TEST_F(EventStreamTest, ClientDisconnectIsDetectedAndCleanedUp) {
  start();
  auto c = open();
  ASSERT_TRUE(opened_.wait_for(1, 5s));
  auto s = stream(0);
  EXPECT_TRUE(s->send("a", "1"));
  c->close();
  ASSERT_TRUE(closed_.wait_for(1, 5s));
  EXPECT_TRUE(s->closed());
  EXPECT_FALSE(s->send("a", "2"));
  EXPECT_TRUE(eventually([&] { return server_->stats().event_streams == 0; }, 5s));
  EXPECT_TRUE(eventually([&] { return server_->stats().open_connections == 0; }, 5s));
  bool late = false;
  s->on_close([&late] { late = true; });  // runs at once on a closed stream
  EXPECT_TRUE(late);
  // The stream object is the only thing left; dropping it releases the connection.
  std::weak_ptr<EventStream> weak = s;
  s.reset();
  {
    std::lock_guard lock(mu_);
    streams_.clear();
  }
  EXPECT_TRUE(weak.expired());
}

TEST_F(EventStreamTest, ServerSideCloseFlushesThenCloses) {
  start();
  auto c = open();
  ASSERT_TRUE(opened_.wait_for(1, 5s));
  auto s = stream(0);
  EXPECT_TRUE(s->send("last", "bye"));
  s->close();
  EXPECT_FALSE(s->send("after", "close"));
  EXPECT_EQ(c->read_until("\n\n"), "event: last\ndata: bye\n\n");
  EXPECT_TRUE(c->wait_closed());
  EXPECT_TRUE(closed_.wait_for(1, 5s));
}

TEST_F(EventStreamTest, SlowClientIsDisconnected) {
  EventStreamOptions o;
  o.max_pending_bytes = 256;
  start(o);
  auto c = open();
  ASSERT_TRUE(opened_.wait_for(1, 5s));
  auto s = stream(0);
  EXPECT_FALSE(s->send("big", std::string(1000, 'x')));
  EXPECT_TRUE(s->closed());
  EXPECT_TRUE(c->wait_closed());
  EXPECT_TRUE(closed_.wait_for(1, 5s));
}

TEST_F(EventStreamTest, StopClosesStreams) {
  start();
  auto a = open();
  auto b = open();
  ASSERT_TRUE(opened_.wait_for(2, 5s));
  auto t0 = std::chrono::steady_clock::now();
  server_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);  // streams do not hold up stop
  EXPECT_EQ(closed_.count(), 2);
  EXPECT_TRUE(a->wait_closed());
  EXPECT_TRUE(b->wait_closed());
  EXPECT_FALSE(stream(0)->send("x", "y"));
  server_.reset();
  EXPECT_FALSE(stream(1)->send("x", "y"));  // still harmless after the server is gone
}

TEST(EventStream, StartAfterRespondGivesAClosedStream) {
  Server server;
  std::promise<std::shared_ptr<EventStream>> got;
  server.router().add_async(Method::get, "/x", [&got](const Request&, Responder r) {
    r.respond(Response::text("done"));
    got.set_value(r.start_events());
  });
  server.start();
  auto c = connected_client(server.port());
  EXPECT_EQ(c.get("/x").body, "done");
  auto s = got.get_future().get();
  EXPECT_TRUE(s->closed());
  EXPECT_FALSE(s->send("a", "b"));
}

}  // namespace
}  // namespace wonderland::http
