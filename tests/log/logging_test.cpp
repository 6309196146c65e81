#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <future>
#include <thread>
#include <vector>

#include "fake_publisher.hpp"
#include "wonderland/log/log.hpp"

namespace wonderland::log {
namespace {

using namespace std::chrono_literals;
using testing::FakePublisher;
using Mode = FakePublisher::Mode;

constexpr auto kBound = 10s;

// Keeps every formatted line (without its newline).
class CaptureSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::vector<std::string> lines() {
    std::lock_guard lock(mutex_);
    return lines_;
  }
  std::string last() {
    auto all = lines();
    return all.empty() ? std::string() : all.back();
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    std::string line(buf.data(), buf.size());
    if (!line.empty() && line.back() == '\n')
      line.pop_back();
    lines_.push_back(std::move(line));
  }
  void flush_() override {}

 private:
  std::vector<std::string> lines_;
};

class Logging : public ::testing::Test {
 protected:
  void SetUp() override { start({}); }
  void TearDown() override {
    (void)shutdown(1s);
    ::unsetenv(kLevelEnv);
  }

  void start(Options options) {
    if (options.service == "wonderland")
      options.service = "orders";
    if (!options.level)
      options.level = Severity::kDebug;
    options.console = console_ = std::make_shared<CaptureSink>();
    init(std::move(options));
  }

  std::shared_ptr<CaptureSink> console_;
};

// Whether `line` starts with a UTC timestamp with milliseconds and a space.
bool starts_with_timestamp(const std::string& line) {
  return line.size() > 25 && line[23] == 'Z' && line[24] == ' ' &&
         parse_iso8601(line.substr(0, 24)).has_value();
}

TEST_F(Logging, WritesOneHumanReadableLinePerRecord) {
  event(Severity::kInfo, "order placed")
      .corr("c-1")
      .field("order_id", 42)
      .field("note", "two words");
  const std::string line = console_->last();
  EXPECT_TRUE(starts_with_timestamp(line)) << line;
  EXPECT_EQ(line.substr(25),
            "INFO    orders corr=c-1 order placed | note=\"two words\" order_id=42");
}

TEST_F(Logging, FormatsShorthandMessages) {
  warn(Corr{"c-2"}, "stock low for {}: {} left", "sku-1", 3);
  EXPECT_EQ(console_->last().substr(25), "WARNING orders corr=c-2 stock low for sku-1: 3 left");
  error("plain {}", 1.5);
  EXPECT_EQ(console_->last().substr(25), "ERROR   orders corr=- plain 1.5");
  debug("d");
  EXPECT_EQ(console_->last().substr(25), "DEBUG   orders corr=- d");
  info(Corr{"c-3"}, "braces are {{literal}}");
  EXPECT_EQ(console_->last().substr(25), "INFO    orders corr=c-3 braces are {literal}");
}

TEST_F(Logging, PlainSpdlogCallsLookTheSame) {
  CorrelationScope scope("c-4");
  spdlog::warn("from {}", "spdlog");
  EXPECT_EQ(console_->last().substr(25), "WARNING orders corr=c-4 from spdlog");
  spdlog::critical("worst");
  EXPECT_EQ(console_->last().substr(25), "ERROR   orders corr=c-4 worst");
}

TEST_F(Logging, FiltersBelowTheLevel) {
  set_level(Severity::kWarning);
  EXPECT_EQ(level(), Severity::kWarning);
  EXPECT_FALSE(enabled(Severity::kInfo));
  EXPECT_TRUE(enabled(Severity::kError));
  info("hidden");
  event(Severity::kDebug, "hidden too").field("x", 1);
  EXPECT_TRUE(console_->lines().empty());
  warn("shown");
  EXPECT_EQ(console_->lines().size(), 1u);
}

TEST_F(Logging, TakesTheLevelFromTheEnvironment) {
  ::setenv(kLevelEnv, "warning", 1);
  init({.service = "orders", .console = console_});
  EXPECT_EQ(level(), Severity::kWarning);
  ::setenv(kLevelEnv, "DEBUG", 1);
  init({.service = "orders", .console = console_});
  EXPECT_EQ(level(), Severity::kDebug);
  ::unsetenv(kLevelEnv);
  init({.service = "orders", .console = console_});
  EXPECT_EQ(level(), Severity::kInfo);
  ::setenv(kLevelEnv, "loud", 1);
  EXPECT_THROW(init({.service = "orders", .console = console_}), std::invalid_argument);
  // An explicit level wins over the environment.
  init({.service = "orders", .level = Severity::kError, .console = console_});
  EXPECT_EQ(level(), Severity::kError);
}

TEST_F(Logging, CorrelationScopesNestAndStayOnTheirThread) {
  EXPECT_EQ(current_correlation_id(), "");
  {
    CorrelationScope outer("outer");
    info("a");
    EXPECT_EQ(console_->last().substr(25), "INFO    orders corr=outer a");
    {
      CorrelationScope inner("inner");
      EXPECT_EQ(current_correlation_id(), "inner");
      info("b");
      EXPECT_EQ(console_->last().substr(25), "INFO    orders corr=inner b");
      // Explicit ids win; an empty explicit id falls back to the scope.
      info(Corr{"explicit"}, "c");
      EXPECT_EQ(console_->last().substr(25), "INFO    orders corr=explicit c");
      event(Severity::kInfo, "d").corr("");
      EXPECT_EQ(console_->last().substr(25), "INFO    orders corr=inner d");

      std::string seen_elsewhere = "unset";
      std::thread([&] { seen_elsewhere = std::string(current_correlation_id()); }).join();
      EXPECT_EQ(seen_elsewhere, "");
    }
    EXPECT_EQ(current_correlation_id(), "outer");
  }
  EXPECT_EQ(current_correlation_id(), "");
  info("e");
  EXPECT_EQ(console_->last().substr(25), "INFO    orders corr=- e");
}

TEST_F(Logging, EventsAreWrittenOnce) {
  {
    Event e = event(Severity::kInfo, "built in steps");
    e.field("step", 1);
    e.fields({{"more", true}, {"step", 2}});
    Event moved = std::move(e);
    moved.emit();
    moved.emit();
  }
  ASSERT_EQ(console_->lines().size(), 1u);
  EXPECT_EQ(console_->last().substr(25), "INFO    orders corr=- built in steps | more=true step=2");
}

TEST_F(Logging, ForwardsRecordsOnceABrokerIsAttached) {
  auto publisher = std::make_shared<FakePublisher>(Mode::kAccept);
  info("before attaching");
  auto attachment = attach_broker(publisher);
  event(Severity::kWarning, "order placed").corr("c-9").field("order_id", 42);
  error("failed {}", "badly");
  debug("details");
  spdlog::trace("trace is below debug");  // filtered by the level
  spdlog::critical("critical");
  ASSERT_TRUE(flush(kBound));

  const auto published = publisher->published();
  ASSERT_EQ(published.size(), 4u);
  const auto& e = published[0].envelope;
  EXPECT_EQ(published[0].severity, Severity::kWarning);
  EXPECT_EQ(e.type, "log.record");
  EXPECT_EQ(e.source, "orders");
  EXPECT_EQ(e.correlation_id, "c-9");
  EXPECT_EQ(e.body["service"], "orders");
  EXPECT_EQ(e.body["severity"], "warning");
  EXPECT_EQ(e.body["correlation_id"], "c-9");
  EXPECT_EQ(e.body["message"], "order placed");
  EXPECT_EQ(e.body["fields"], (nlohmann::json{{"order_id", 42}}));
  EXPECT_EQ(e.body["timestamp"], e.timestamp);
  EXPECT_EQ(published[1].severity, Severity::kError);
  EXPECT_EQ(published[1].envelope.body["message"], "failed badly");
  EXPECT_EQ(published[2].severity, Severity::kDebug);
  EXPECT_EQ(published[3].severity, Severity::kError);
  EXPECT_EQ(stats().forwarded, 4u);

  // Detaching stops forwarding; the console keeps every record.
  EXPECT_TRUE(attachment.detach());
  info("after detaching");
  EXPECT_EQ(publisher->published().size(), 4u);
  EXPECT_EQ(console_->lines().size(), 6u);  // all but the trace
}

TEST_F(Logging, AttachmentDetachesWhenDestroyed) {
  auto publisher = std::make_shared<FakePublisher>(Mode::kAccept);
  {
    auto attachment = attach_broker(publisher);
    info("one");
  }  // flushed here
  EXPECT_EQ(publisher->published().size(), 1u);
  info("two");
  EXPECT_TRUE(flush(0ms));
  EXPECT_EQ(publisher->published().size(), 1u);
}

TEST_F(Logging, ABlockedBrokerNeverBlocksLogging) {
  start({.broker = {.queue_capacity = 50, .flush_timeout = 200ms}});
  auto publisher = std::make_shared<FakePublisher>(Mode::kBlock);
  auto attachment = attach_broker(publisher);
  info("first");
  ASSERT_TRUE(
      publisher->wait_for([](const FakePublisher& p) { return p.blocked_unlocked() == 1; }));

  auto logging = std::async(std::launch::async, [] {
    CorrelationScope scope("busy");
    for (int i = 0; i < 2000; ++i)
      event(Severity::kInfo, "record").field("i", i);
  });
  ASSERT_EQ(logging.wait_for(kBound), std::future_status::ready) << "logging blocked";

  Stats s = stats();
  EXPECT_EQ(s.queued, 50u);
  EXPECT_EQ(s.dropped, 1950u);
  // The console got every record, and a warning about the drops.
  const auto lines = console_->lines();
  EXPECT_GE(lines.size(), 2001u);
  bool warned = false;
  for (const auto& line : lines) {
    warned =
        warned || (line.find("WARNING orders corr=- dropped ") != std::string::npos &&
                   line.find("log records while the broker was unreachable") != std::string::npos);
  }
  EXPECT_TRUE(warned);

  publisher->set_mode(Mode::kAccept);
  ASSERT_TRUE(flush(kBound));
  s = stats();
  EXPECT_EQ(s.forwarded, 52u);  // "first", the drop report, 50 queued records
  const auto published = publisher->published();
  ASSERT_EQ(published.size(), 52u);
  EXPECT_EQ(published[1].envelope.body["fields"]["dropped"], 1950);
  EXPECT_EQ(published[2].envelope.correlation_id, "busy");
}

TEST_F(Logging, ShutdownIsBoundedWhenTheBrokerIsStuck) {
  start({.broker = {.flush_timeout = 100ms}});
  auto publisher = std::make_shared<FakePublisher>(Mode::kBlock);
  auto attachment = attach_broker(publisher);
  for (int i = 0; i < 5; ++i)
    info("queued {}", i);
  ASSERT_TRUE(
      publisher->wait_for([](const FakePublisher& p) { return p.blocked_unlocked() == 1; }));
  auto stopping = std::async(std::launch::async, [] { return shutdown(); });
  ASSERT_EQ(stopping.wait_for(kBound), std::future_status::ready) << "shutdown hung";
  EXPECT_FALSE(stopping.get());
  EXPECT_EQ(stats().dropped, 4u);
  publisher->set_mode(Mode::kAccept);  // lets the stuck forwarding thread finish
  EXPECT_TRUE(attachment.detach());    // already detached: nothing to do
}

TEST_F(Logging, NeverThrowsOnInvalidUtf8) {
  auto publisher = std::make_shared<FakePublisher>(Mode::kAccept);
  auto attachment = attach_broker(publisher);
  event(Severity::kInfo, "bad \xFF byte").field("raw", "\xC3\x28");
  ASSERT_TRUE(flush(kBound));
  ASSERT_EQ(publisher->published().size(), 1u);
  EXPECT_NO_THROW((void)publisher->published()[0].envelope.body.dump());
}

}  // namespace
}  // namespace wonderland::log
