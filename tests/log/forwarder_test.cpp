#include "wonderland/log/forwarder.hpp"

#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <numeric>
#include <thread>
#include <vector>

#include "fake_publisher.hpp"
#include "wonderland/testing/scoped_env.hpp"

namespace wonderland::log {
namespace {

using namespace std::chrono_literals;
using testing::FakePublisher;
using Mode = FakePublisher::Mode;

// Generous bounds: they only have to catch a hang, not measure speed.
constexpr auto kBound = 10s;

Record record(int i, Severity severity = Severity::kInfo) {
  Record r;
  r.time = std::chrono::system_clock::now();
  r.severity = severity;
  r.service = "svc";
  r.correlation_id = "c-" + std::to_string(i);
  r.message = "record " + std::to_string(i);
  r.fields = {{"i", i}};
  return r;
}

// Collects what the forwarder writes on the console.
class Console {
 public:
  BrokerForwarder::ConsoleReporter reporter() {
    return [this](const Record& r) {
      std::lock_guard lock(mu_);
      records_.push_back(r);
    };
  }
  std::vector<Record> records() const {
    std::lock_guard lock(mu_);
    return records_;
  }
  std::uint64_t reported_drops() const {
    std::uint64_t n = 0;
    for (const auto& r : records())
      n += r.fields.value("dropped", std::uint64_t{0});
    return n;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Record> records_;
};

// Waits (bounded, polling the forwarder's own counters) until `condition` holds.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds bound = kBound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition())
      return true;
    std::this_thread::yield();
  }
  return condition();
}

ForwarderOptions fast_options(std::size_t capacity) {
  ForwarderOptions o;
  o.queue_capacity = capacity;
  o.retry_min_backoff = 5ms;
  o.retry_max_backoff = 20ms;
  o.drop_report_interval = 10s;
  o.flush_timeout = 5s;
  return o;
}

// One record that fails over and over, with these pauses between probes.
ForwarderOptions probing_options(std::chrono::milliseconds min_backoff,
                                 std::chrono::milliseconds max_backoff) {
  ForwarderOptions o = fast_options(10);
  o.retry_min_backoff = min_backoff;
  o.retry_max_backoff = max_backoff;
  o.max_attempts = 1000;
  return o;
}

TEST(Forwarder, PublishesEveryRecordWithItsSeverity) {
  Console console;
  BrokerForwarder forwarder("svc", fast_options(100), console.reporter());
  auto publisher = std::make_shared<FakePublisher>(Mode::kAccept);
  forwarder.attach(publisher);
  forwarder.push(record(1, Severity::kDebug));
  forwarder.push(record(2, Severity::kError));
  ASSERT_TRUE(forwarder.flush(kBound));
  const auto published = publisher->published();
  ASSERT_EQ(published.size(), 2u);
  EXPECT_EQ(published[0].severity, Severity::kDebug);
  EXPECT_EQ(published[0].envelope.correlation_id, "c-1");
  EXPECT_EQ(published[0].envelope.body["message"], "record 1");
  EXPECT_EQ(published[1].severity, Severity::kError);
  EXPECT_EQ(published[1].envelope.body["severity"], "error");
  const Stats s = forwarder.stats();
  EXPECT_EQ(s.forwarded, 2u);
  EXPECT_EQ(s.dropped, 0u);
  EXPECT_EQ(s.queued, 0u);
  EXPECT_EQ(s.in_flight, 0u);
  EXPECT_TRUE(console.records().empty());
}

TEST(Forwarder, IgnoresRecordsWhileDetached) {
  Console console;
  BrokerForwarder forwarder("svc", fast_options(100), console.reporter());
  EXPECT_FALSE(forwarder.attached());
  forwarder.push(record(1));
  EXPECT_EQ(forwarder.stats().queued, 0u);
  EXPECT_EQ(forwarder.stats().dropped, 0u);
  EXPECT_TRUE(forwarder.flush(0ms));
  EXPECT_TRUE(forwarder.detach(0ms));
}

TEST(Forwarder, RejectsANullPublisher) {
  BrokerForwarder forwarder("svc", fast_options(10), nullptr);
  EXPECT_THROW(forwarder.attach(nullptr), std::invalid_argument);
}

TEST(Forwarder, BlockedPublisherNeverBlocksPushAndOverflowIsCounted) {
  Console console;
  BrokerForwarder forwarder("svc", fast_options(100), console.reporter());
  auto publisher = std::make_shared<FakePublisher>(Mode::kBlock);
  forwarder.attach(publisher);
  forwarder.push(record(0));
  ASSERT_TRUE(
      publisher->wait_for([](const FakePublisher& p) { return p.blocked_unlocked() == 1; }));

  // The forwarding thread is stuck inside the publisher; pushing must still return at once.
  auto pushing = std::async(std::launch::async, [&] {
    for (int i = 1; i <= 1000; ++i)
      forwarder.push(record(i));
  });
  ASSERT_EQ(pushing.wait_for(kBound), std::future_status::ready) << "push blocked";

  Stats s = forwarder.stats();
  EXPECT_EQ(s.queued, 100u);
  EXPECT_EQ(s.in_flight, 1u);
  EXPECT_EQ(s.dropped, 900u);
  EXPECT_EQ(s.forwarded, 0u);

  // The drops are reported on the console at once, although the forwarding thread is stuck.
  ASSERT_FALSE(console.records().empty());
  const Record report = console.records().front();
  EXPECT_EQ(report.severity, Severity::kWarning);
  EXPECT_EQ(report.service, "svc");
  EXPECT_NE(report.message.find("log records while the broker was unreachable"), std::string::npos)
      << report.message;

  // Once the broker is back, everything queued is delivered, preceded by the drop report.
  publisher->set_mode(Mode::kAccept);
  ASSERT_TRUE(forwarder.flush(kBound));
  const auto published = publisher->published();
  ASSERT_EQ(published.size(), 102u);  // record 0, the report, records 1..100
  EXPECT_EQ(published[0].envelope.body["message"], "record 0");
  EXPECT_EQ(published[1].severity, Severity::kWarning);
  EXPECT_EQ(published[1].envelope.body["message"],
            "dropped 900 log records while the broker was unreachable");
  EXPECT_EQ(published[1].envelope.body["fields"]["dropped"], 900);
  EXPECT_EQ(published[1].envelope.source, "svc");
  for (int i = 1; i <= 100; ++i) {
    EXPECT_EQ(published[static_cast<std::size_t>(i) + 1].envelope.body["message"],
              "record " + std::to_string(i));
  }
  s = forwarder.stats();
  EXPECT_EQ(s.forwarded, 102u);
  EXPECT_EQ(s.dropped, 900u);
  EXPECT_EQ(s.queued, 0u);

  // Every drop reaches the console eventually: the rest is reported when detaching.
  EXPECT_TRUE(forwarder.detach(kBound));
  EXPECT_EQ(console.reported_drops(), 900u);
}

TEST(Forwarder, FailingPublisherBacksOffInsteadOfSpinning) {
  BrokerForwarder forwarder("svc", probing_options(20ms, 160ms), nullptr);
  auto publisher = std::make_shared<FakePublisher>(Mode::kFail);
  forwarder.attach(publisher);
  forwarder.push(record(1));
  ASSERT_TRUE(
      publisher->wait_for([](const FakePublisher& p) { return p.attempts_unlocked() >= 6; }));
  const auto times = publisher->attempt_times();
  // The pause doubles from the minimum with every failed probe, up to the maximum. It counts
  // from just before the publish, and the fake notes the time just inside it, so the gap between
  // two notes may be a little shorter than the pause.
  const std::chrono::milliseconds expected[] = {20ms, 40ms, 80ms, 160ms, 160ms};
  for (std::size_t i = 0; i < std::size(expected); ++i) {
    EXPECT_GE(times[i + 1] - times[i], expected[i] - 1ms)
        << "between attempts " << i << " and " << i + 1;
  }
  const Stats s = forwarder.stats();
  EXPECT_GE(s.publish_failures, 5u);  // the sixth may still be completing
  EXPECT_EQ(s.dropped, 0u);
  EXPECT_EQ(s.queued + s.in_flight, 1u);
  EXPECT_FALSE(forwarder.detach(0ms));
  EXPECT_EQ(forwarder.stats().dropped, 1u);
}

TEST(Forwarder, ProbesOneRecordAtATimeWhileFailing) {
  ForwarderOptions o = fast_options(50);
  o.max_in_flight = 8;
  o.retry_min_backoff = 1ms;
  o.retry_max_backoff = 2ms;
  o.max_attempts = 1000;
  BrokerForwarder forwarder("svc", o, nullptr);
  auto publisher = std::make_shared<FakePublisher>(Mode::kHold);
  forwarder.attach(publisher);
  for (int i = 0; i < 20; ++i)
    forwarder.push(record(i));
  ASSERT_TRUE(publisher->wait_for([](const FakePublisher& p) { return p.held_unlocked() == 8; }));
  EXPECT_EQ(forwarder.stats().in_flight, 8u);
  EXPECT_EQ(forwarder.stats().queued, 12u);

  publisher->complete_held(false);  // the broker went away
  ASSERT_TRUE(publisher->wait_for([](const FakePublisher& p) { return p.held_unlocked() == 1; }));
  // While probing there is never more than one publish outstanding.
  EXPECT_FALSE(
      publisher->wait_for([](const FakePublisher& p) { return p.held_unlocked() > 1; }, 50ms));
  EXPECT_EQ(forwarder.stats().in_flight, 1u);

  publisher->set_mode(Mode::kAccept);
  publisher->complete_held(true);  // the probe succeeds: full speed again
  ASSERT_TRUE(forwarder.flush(kBound));
  const Stats s = forwarder.stats();
  EXPECT_EQ(s.forwarded, 20u);
  EXPECT_EQ(s.dropped, 0u);
  EXPECT_EQ(s.publish_failures, 8u);
}

TEST(Forwarder, AProbeHeldForAWholePauseIsFollowedAtOnce) {
  // A disconnected connection holds a publish until its deadline. Its pause has passed by then,
  // so the next probe goes at once instead of leaving a gap in which the broker may return.
  BrokerForwarder forwarder("svc", probing_options(400ms, 400ms), nullptr);
  auto publisher = std::make_shared<FakePublisher>(Mode::kFail);
  forwarder.attach(publisher);
  forwarder.push(record(1));
  // The first failure makes it probe; then every probe is held like a publish while disconnected.
  ASSERT_TRUE(
      publisher->wait_for([](const FakePublisher& p) { return p.attempts_unlocked() >= 1; }));
  publisher->set_mode(Mode::kHold);
  ASSERT_TRUE(publisher->wait_for([](const FakePublisher& p) { return p.held_unlocked() == 1; }));
  std::this_thread::sleep_for(500ms);  // longer than the pause
  const auto failed_at = std::chrono::steady_clock::now();
  publisher->complete_held(false);
  ASSERT_TRUE(publisher->wait_for([](const FakePublisher& p) { return p.held_unlocked() == 1; }));
  const auto times = publisher->attempt_times();
  ASSERT_EQ(times.size(), 3u);
  EXPECT_LT(times[2] - failed_at, 200ms) << "the next probe waited out a pause again";

  // A probe that fails soon after it was sent still waits for the rest of the pause.
  std::this_thread::sleep_for(100ms);
  const auto quick_failure_at = std::chrono::steady_clock::now();
  publisher->complete_held(false);
  ASSERT_TRUE(publisher->wait_for([](const FakePublisher& p) { return p.held_unlocked() == 1; }));
  const auto later = publisher->attempt_times();
  ASSERT_EQ(later.size(), 4u);
  EXPECT_GE(later[3] - later[2], 399ms);  // the pause, from just before the publish
  EXPECT_GE(later[3] - quick_failure_at, 100ms) << "a quick failure was followed at once";

  publisher->set_mode(Mode::kAccept);
  publisher->complete_held(true);
  ASSERT_TRUE(forwarder.flush(kBound));
  EXPECT_EQ(forwarder.stats().forwarded, 1u);
  EXPECT_EQ(forwarder.stats().dropped, 0u);
}

TEST(Forwarder, DeliversWhatFitsOnceTheBrokerRecovers) {
  ForwarderOptions o = fast_options(50);
  o.max_attempts = 3;
  Console console;
  BrokerForwarder forwarder("svc", o, console.reporter());
  auto publisher = std::make_shared<FakePublisher>(Mode::kFail);
  forwarder.attach(publisher);
  for (int i = 0; i < 200; ++i)
    forwarder.push(record(i));
  // The front record is tried max_attempts times, then dropped; and so on.
  ASSERT_TRUE(eventually([&] { return forwarder.stats().dropped >= 152; }));
  EXPECT_GT(forwarder.stats().publish_failures, 0u);

  publisher->set_mode(Mode::kAccept);
  ASSERT_TRUE(forwarder.flush(kBound));
  const Stats s = forwarder.stats();
  EXPECT_EQ(s.queued, 0u);
  EXPECT_EQ(s.in_flight, 0u);
  const auto published = publisher->published();
  EXPECT_EQ(s.forwarded, published.size());
  // Everything pushed is accounted for: forwarded (minus the drop reports) or dropped.
  std::uint64_t reported = 0;
  std::size_t reports = 0;
  for (const auto& p : published) {
    if (p.envelope.body["fields"].contains("dropped")) {
      ++reports;
      reported += p.envelope.body["fields"]["dropped"].get<std::uint64_t>();
    }
  }
  EXPECT_GE(reports, 1u);
  EXPECT_EQ(published.size() - reports + s.dropped, 200u);
  EXPECT_EQ(reported, s.dropped);
  // In order: the queue keeps the oldest records and drops the newest.
  int previous = -1;
  for (const auto& p : published) {
    if (p.envelope.body["fields"].contains("dropped"))
      continue;
    const int i = p.envelope.body["fields"]["i"].get<int>();
    EXPECT_GT(i, previous);
    previous = i;
  }
}

TEST(Forwarder, DetachWaitsBoundedlyForAStuckPublisher) {
  Console console;
  BrokerForwarder forwarder("svc", fast_options(100), console.reporter());
  auto publisher = std::make_shared<FakePublisher>(Mode::kBlock);
  forwarder.attach(publisher);
  for (int i = 0; i < 10; ++i)
    forwarder.push(record(i));
  ASSERT_TRUE(
      publisher->wait_for([](const FakePublisher& p) { return p.blocked_unlocked() == 1; }));

  auto detaching = std::async(std::launch::async, [&] { return forwarder.detach(100ms); });
  ASSERT_EQ(detaching.wait_for(kBound), std::future_status::ready) << "detach hung";
  EXPECT_FALSE(detaching.get());
  EXPECT_FALSE(forwarder.attached());
  const Stats s = forwarder.stats();
  EXPECT_EQ(s.dropped, 9u);  // still queued; the tenth is inside the publisher
  EXPECT_EQ(console.reported_drops(), 9u);

  // Records pushed after detaching are ignored; unblocking lets the stuck thread finish.
  forwarder.push(record(99));
  EXPECT_EQ(forwarder.stats().queued, 0u);
  publisher->set_mode(Mode::kAccept);
  ASSERT_TRUE(eventually([&] { return forwarder.stats().in_flight == 0; }));
  EXPECT_EQ(forwarder.stats().forwarded, 1u);
}

TEST(Forwarder, CanBeAttachedAgain) {
  BrokerForwarder forwarder("svc", fast_options(10), nullptr);
  auto first = std::make_shared<FakePublisher>(Mode::kAccept);
  auto second = std::make_shared<FakePublisher>(Mode::kAccept);
  const auto id1 = forwarder.attach(first);
  forwarder.push(record(1));
  const auto id2 = forwarder.attach(second);  // flushes to `first`, then switches
  EXPECT_NE(id1, id2);
  forwarder.push(record(2));
  ASSERT_TRUE(forwarder.flush(kBound));
  EXPECT_EQ(first->published().size(), 1u);
  ASSERT_EQ(second->published().size(), 1u);
  EXPECT_EQ(second->published()[0].envelope.body["message"], "record 2");
  EXPECT_TRUE(forwarder.detach(id1, kBound));  // stale id: no effect
  EXPECT_TRUE(forwarder.attached());
  EXPECT_TRUE(forwarder.detach(id2, kBound));
  EXPECT_FALSE(forwarder.attached());
}

TEST(Forwarder, SurvivesAPublisherThatThrows) {
  class Throwing final : public LogPublisher {
   public:
    void publish(messaging::Envelope, Severity, Done) override {
      ++calls;
      throw std::runtime_error("boom");
    }
    std::atomic<int> calls{0};
  };
  ForwarderOptions o = fast_options(10);
  o.max_attempts = 2;
  BrokerForwarder forwarder("svc", o, nullptr);
  auto publisher = std::make_shared<Throwing>();
  forwarder.attach(publisher);
  forwarder.push(record(1));
  ASSERT_TRUE(eventually([&] { return forwarder.stats().dropped == 1; }));
  EXPECT_EQ(publisher->calls.load(), 2);
  EXPECT_EQ(forwarder.stats().publish_failures, 2u);
}

// ---- batching ---------------------------------------------------------------------------------

ForwarderOptions batching_options(std::size_t max_batch, std::chrono::milliseconds linger) {
  ForwarderOptions o = fast_options(1000);
  o.max_batch = max_batch;
  o.linger = linger;
  return o;
}

// A forwarder with batching, attached to a fake publisher in `mode`.
struct Batching {
  Batching(std::size_t max_batch, std::chrono::milliseconds linger, Mode mode = Mode::kAccept)
      : publisher(std::make_shared<FakePublisher>(mode)),
        forwarder("svc", batching_options(max_batch, linger), nullptr) {
    forwarder.attach(publisher);
  }
  std::shared_ptr<FakePublisher> publisher;
  BrokerForwarder forwarder;
};

// The messages of one publish: the records it carries, by message ("record <i>").
std::vector<std::string> messages_of(const FakePublisher::Published& p) {
  std::vector<std::string> out;
  if (p.envelope.type == kRecordType) {
    out.push_back(p.envelope.body["message"].get<std::string>());
  } else {
    for (const auto& r : p.envelope.body.at("records"))
      out.push_back(r["message"].get<std::string>());
  }
  return out;
}

// The records of the publishes from `first` on, in the order they were published.
std::vector<std::string> messages_from(const std::vector<FakePublisher::Published>& published,
                                       std::size_t first = 0) {
  std::vector<std::string> out;
  for (std::size_t m = first; m < published.size(); ++m) {
    for (auto& text : messages_of(published[m]))
      out.push_back(text);
  }
  return out;
}

TEST(Forwarder, RecordsOfOneSeverityTravelTogetherInTheOrderTheyWereLogged) {
  Batching batching(10, 10s);
  auto& [publisher, forwarder] = batching;
  for (int i = 0; i < 25; ++i)
    forwarder.push(record(i));
  forwarder.push(record(25, Severity::kError));  // closes the batch of 20-24
  for (int i = 26; i < 29; ++i)
    forwarder.push(record(i));  // close the error's; these three linger
  ASSERT_TRUE(eventually([&] { return publisher->published().size() == 4; }));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(publisher->published().size(), 4u) << "a batch that can still grow went early";
  EXPECT_EQ(forwarder.stats().queued, 3u);
  ASSERT_TRUE(forwarder.flush(kBound));  // sends what lingers at once (the linger is 10 s)

  const auto published = publisher->published();
  ASSERT_EQ(published.size(), 5u);
  const std::vector<std::size_t> sizes = {10, 10, 5, 1, 3};
  const std::vector<Severity> severities = {Severity::kInfo, Severity::kInfo, Severity::kInfo,
                                            Severity::kError, Severity::kInfo};
  int next = 0;
  for (std::size_t m = 0; m < published.size(); ++m) {
    const auto& p = published[m];
    EXPECT_EQ(p.severity, severities[m]) << m;
    EXPECT_EQ(p.envelope.type, sizes[m] == 1 ? kRecordType : kRecordBatchType) << m;
    const auto messages = messages_of(p);
    ASSERT_EQ(messages.size(), sizes[m]) << m;
    for (const auto& text : messages)
      EXPECT_EQ(text, "record " + std::to_string(next++));
    if (sizes[m] > 1) {
      const auto& first = p.envelope.body["records"][0];
      EXPECT_EQ(first["correlation_id"], "c-" + std::to_string(next - static_cast<int>(sizes[m])));
      EXPECT_EQ(first["severity"], to_string(severities[m]));
      EXPECT_EQ(first["fields"]["i"], next - static_cast<int>(sizes[m]));
      EXPECT_EQ(p.envelope.source, "svc");
      EXPECT_TRUE(p.envelope.correlation_id.empty());  // each record carries its own
    }
  }
  EXPECT_EQ(next, 29);
  EXPECT_EQ(forwarder.stats().forwarded, 29u);
  EXPECT_EQ(forwarder.stats().dropped, 0u);
}

TEST(Forwarder, ARecordOfAnotherSeverityWakesTheSenderForTheBatchItCloses) {
  Batching batching(64, 10s);
  auto& [publisher, forwarder] = batching;
  for (int i = 0; i < 3; ++i)
    forwarder.push(record(i));
  std::this_thread::sleep_for(100ms);  // the forwarding thread now sleeps out the 10 s linger
  EXPECT_TRUE(publisher->published().empty());
  forwarder.push(record(3, Severity::kWarning));
  ASSERT_TRUE(eventually([&] { return publisher->published().size() == 1; }, 2s))
      << "the closed batch waited for its linger";
  EXPECT_EQ(messages_of(publisher->published()[0]),
            (std::vector<std::string>{"record 0", "record 1", "record 2"}));
  ASSERT_TRUE(forwarder.flush(kBound));
  EXPECT_EQ(publisher->published().size(), 2u);
}

TEST(Forwarder, ALoneRecordWaitsOutItsLingerThenGoesAlone) {
  Batching batching(64, 150ms);
  auto& [publisher, forwarder] = batching;
  const auto pushed = std::chrono::steady_clock::now();
  forwarder.push(record(1));
  ASSERT_TRUE(eventually([&] { return publisher->published().size() == 1; }));
  const auto waited = publisher->attempt_times().at(0) - pushed;
  EXPECT_GE(waited, 149ms);
  const auto published = publisher->published();
  EXPECT_EQ(published[0].envelope.type, kRecordType);
  EXPECT_EQ(published[0].envelope.body["message"], "record 1");
}

TEST(Forwarder, ABatchStopsGrowingAtAQuarterMegabyte) {
  Batching batching(64, 10s);
  auto& [publisher, forwarder] = batching;
  for (int i = 0; i < 8; ++i) {
    Record r = record(i);
    r.fields["dump"] = std::string(100 * 1024, 'x');  // a large field: 100 KiB
    forwarder.push(std::move(r));
  }
  ASSERT_TRUE(forwarder.flush(kBound));
  const auto published = publisher->published();
  std::size_t total = 0;
  for (const auto& p : published) {
    const auto n = messages_of(p).size();
    EXPECT_LE(n, 3u) << "a batch of " << n << " records of 100 KiB each";
    total += n;
  }
  EXPECT_EQ(total, 8u);
  EXPECT_GE(published.size(), 3u);
}

TEST(Forwarder, DetachingSendsWhatLingersAtOnce) {
  Batching batching(64, 10s);
  auto& [publisher, forwarder] = batching;
  for (int i = 0; i < 3; ++i)
    forwarder.push(record(i));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(forwarder.detach(kBound));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);  // far less than the linger
  const auto published = publisher->published();
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(messages_of(published[0]),
            (std::vector<std::string>{"record 0", "record 1", "record 2"}));
}

TEST(Forwarder, AFailedBatchComesBackInOrderAndIsProbedOneRecordAtATime) {
  Batching batching(5, 10s, Mode::kHold);
  auto& [publisher, forwarder] = batching;
  for (int i = 0; i < 5; ++i)
    forwarder.push(record(i));  // a full batch: it goes at once
  ASSERT_TRUE(eventually([&] {
    publisher->complete_held(true);
    return forwarder.stats().forwarded == 5;
  }));
  for (int i = 5; i < 10; ++i)
    forwarder.push(record(i));
  ASSERT_TRUE(eventually([&] { return publisher->held_count() >= 1; }));
  const auto before = publisher->published().size();
  publisher->complete_held(false);  // the broker went away with the batch
  ASSERT_TRUE(eventually([&] { return publisher->held_count() == 1; }));
  publisher->set_mode(Mode::kAccept);
  publisher->complete_held(true);        // the probe gets through
  ASSERT_TRUE(forwarder.flush(kBound));  // the other four would linger for 10 s

  const auto published = publisher->published();
  const std::vector<std::string> after = messages_from(published, before);
  ASSERT_GE(published.size(), before + 2);
  EXPECT_EQ(published[before].envelope.type, kRecordType) << "a probe carries one record";
  const std::vector<std::string> expected = {"record 5", "record 6", "record 7", "record 8",
                                             "record 9"};
  EXPECT_EQ(after, expected);
  EXPECT_EQ(forwarder.stats().forwarded, 10u);
  EXPECT_EQ(forwarder.stats().dropped, 0u);
}

TEST(Forwarder, BatchesThatFailTogetherComeBackInTheOrderTheyWereLogged) {
  Batching batching(3, 10s, Mode::kHold);
  auto& [publisher, forwarder] = batching;
  for (int i = 0; i < 9; ++i)
    forwarder.push(record(i));  // three full batches, in flight together
  ASSERT_TRUE(eventually([&] { return publisher->held_count() == 3; }));
  publisher->set_mode(Mode::kAccept);
  // The connection went away: its publishes fail in the order they were sent.
  publisher->complete_held(false);
  ASSERT_TRUE(forwarder.flush(kBound));

  const std::vector<std::string> texts = messages_from(publisher->published());
  std::vector<std::string> expected;
  for (int i = 0; i < 9; ++i)
    expected.push_back("record " + std::to_string(i));
  EXPECT_EQ(texts, expected);
  EXPECT_EQ(forwarder.stats().forwarded, 9u);
  EXPECT_EQ(forwarder.stats().dropped, 0u);
}

TEST(Forwarder, AFailedBatchUsesUpOneAttemptOfEachOfItsRecords) {
  ForwarderOptions o = batching_options(3, 10s);
  o.max_attempts = 1;
  Console console;
  BrokerForwarder forwarder("svc", o, console.reporter());
  auto publisher = std::make_shared<FakePublisher>(Mode::kFail);
  forwarder.attach(publisher);
  for (int i = 0; i < 3; ++i)
    forwarder.push(record(i));  // a full batch goes at once
  ASSERT_TRUE(eventually([&] { return forwarder.stats().dropped == 3; }));
  EXPECT_EQ(publisher->attempts(), 1);
  EXPECT_EQ(forwarder.stats().forwarded, 0u);
}

TEST(ForwarderOptions, BatchingComesFromTheEnvironment) {
  {
    const ForwarderOptions o = ForwarderOptions::from_env();
    EXPECT_EQ(o.max_batch, 64u);
    EXPECT_EQ(o.linger, 20ms);
  }
  {
    wonderland::testing::ScopedEnv batch("WONDERLAND_LOG_FORWARD_BATCH", "1");
    wonderland::testing::ScopedEnv linger("WONDERLAND_LOG_FORWARD_LINGER_MS", "0");
    const ForwarderOptions o = ForwarderOptions::from_env();
    EXPECT_EQ(o.max_batch, 1u);
    EXPECT_EQ(o.linger, 0ms);
  }
  {
    wonderland::testing::ScopedEnv batch("WONDERLAND_LOG_FORWARD_BATCH", "0");
    EXPECT_THROW(ForwarderOptions::from_env(), std::invalid_argument);
  }
  {
    wonderland::testing::ScopedEnv linger("WONDERLAND_LOG_FORWARD_LINGER_MS", "soon");
    EXPECT_THROW(ForwarderOptions::from_env(), std::invalid_argument);
  }
}

}  // namespace
}  // namespace wonderland::log
