#include "wonderland/log/forwarder.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <stdexcept>
#include <utility>
#include <vector>

#include "wonderland/common/env.hpp"

namespace wonderland::log {
namespace {

using Clock = std::chrono::steady_clock;

struct Item {
  Record record;
  int attempts = 0;
  Clock::time_point queued_at = Clock::now();  // when it first entered the queue
  /// Its place in the order records were pushed (0: a report of dropped records, which goes
  /// ahead of them). The queue is kept in this order, also when failed batches come back.
  std::uint64_t seq = 0;
};

/// A batch stops growing once its records reach about this many bytes, so that one message
/// stays far below what a consumer accepts (64 MiB, common/json_limits.hpp).
constexpr std::size_t kMaxBatchBytes = std::size_t{256} * 1024;

/// Roughly what a record adds to a message: its text, its fields' names and string values, and
/// 200 bytes for the rest. Cheap on purpose (nothing is serialized): a large nested field is
/// not counted, which only lets one batch grow larger than intended.
std::size_t approximate_bytes(const Record& record) {
  std::size_t bytes = 200 + record.message.size() + record.correlation_id.size();
  if (record.fields.is_object()) {
    for (const auto& [key, value] : record.fields.items())
      bytes += key.size() + (value.is_string() ? value.get_ref<const std::string&>().size() : 16);
  }
  return bytes;
}

std::string dropped_message(std::uint64_t n) {
  return fmt::format("dropped {} log records while the broker was unreachable", n);
}

}  // namespace

namespace detail {

struct ForwarderState {
  ForwarderState(std::string service_name, ForwarderOptions opts,
                 BrokerForwarder::ConsoleReporter reporter)
      : options(opts),
        service(std::move(service_name)),
        console(std::move(reporter)),
        backoff(options.retry_min_backoff) {}

  const ForwarderOptions options;
  const std::string service;
  const BrokerForwarder::ConsoleReporter console;

  std::atomic<bool> accepting_hint{false};  // a lock-free early-out for push

  mutable std::mutex mu;
  std::condition_variable wake;  // the forwarding thread
  std::condition_variable idle;  // flush and detach
  std::deque<Item> queue;
  std::uint64_t next_seq = 1;
  bool accepting = false;
  std::uint64_t generation = 0;  // bumped by attach and detach; older threads exit
  std::size_t in_flight = 0;
  std::size_t flush_waiters = 0;  // flush() callers: queued records go without lingering
  bool probing = false;           // a failure happened: one publish at a time until a success
  bool broker_ok = false;         // the last outcome was a success
  Clock::time_point resume_at{};
  std::chrono::milliseconds backoff;
  Clock::time_point next_console_report{};
  Clock::time_point next_broker_report{};
  std::uint64_t forwarded = 0;
  std::uint64_t dropped = 0;
  std::uint64_t failures = 0;
  std::uint64_t unreported_console = 0;
  std::uint64_t unreported_broker = 0;

  void drop_locked(std::uint64_t n) {
    if (n == 0)
      return;
    if (unreported_console == 0)
      wake.notify_all();  // a report becomes due
    dropped += n;
    unreported_console += n;
    unreported_broker += n;
  }

  Record warning(std::string message, nlohmann::json fields) const {
    Record r;
    r.time = std::chrono::system_clock::now();
    r.severity = Severity::kWarning;
    r.service = service;
    r.message = std::move(message);
    r.fields = std::move(fields);
    return r;
  }

  /// Writes "dropped N log records <why>" on the console; best effort.
  void report_dropped(std::uint64_t n,
                      std::string_view why = "while the broker was unreachable") const noexcept {
    if (!console || n == 0)
      return;
    try {
      console(warning(fmt::format("dropped {} log records {}", n, why), {{"dropped", n}}));
    } catch (...) {
    }
  }
};

}  // namespace detail

namespace {

// One publish: completes once, whatever the publisher does.
struct Completion {
  std::vector<Item> items;  // one, or a batch of one severity in the order they were logged
  std::uint64_t generation = 0;
  bool probe = false;
  Clock::time_point sent_at{};
  std::atomic<bool> completed{false};
};

void complete(const std::shared_ptr<detail::ForwarderState>& sh,
              const std::shared_ptr<Completion>& c, bool ok) noexcept {
  if (c->completed.exchange(true))
    return;
  std::lock_guard lock(sh->mu);
  --sh->in_flight;
  const bool current = c->generation == sh->generation;
  if (ok) {
    sh->forwarded += c->items.size();
    if (current) {
      sh->probing = false;
      sh->broker_ok = true;
      sh->backoff = sh->options.retry_min_backoff;
      sh->resume_at = {};
    }
  } else {
    ++sh->failures;
    if (current) {
      sh->broker_ok = false;
      if (c->probe) {
        sh->backoff = std::min(sh->backoff * 2, sh->options.retry_max_backoff);
      }
      sh->probing = true;
      // The pause counts from when the publish was sent: one that went unanswered for a whole
      // pause (the connection held it while the broker was unreachable) has waited it out, so
      // the next probe goes at once and is waiting in the connection when the broker returns.
      sh->resume_at = std::max(sh->resume_at, c->sent_at + sh->backoff);
    }
    // Back in their place, each with one attempt more; the rest are dropped. Their place is not
    // simply the front: the batches in flight fail together when the connection goes, each
    // behind the one before it, and each would otherwise go ahead of the earlier ones.
    std::uint64_t lost = 0;
    for (Item& item : c->items) {
      ++item.attempts;
      bool requeued = false;
      if (current && item.attempts < sh->options.max_attempts &&
          sh->queue.size() < sh->options.queue_capacity) {
        try {
          auto place = std::upper_bound(
              sh->queue.begin(), sh->queue.end(), item.seq,
              [](std::uint64_t seq, const Item& queued) { return seq < queued.seq; });
          sh->queue.insert(place, std::move(item));
          requeued = true;
        } catch (...) {
        }
      }
      if (!requeued)
        ++lost;
    }
    sh->drop_locked(lost);
  }
  sh->wake.notify_all();
  sh->idle.notify_all();
}

void send(const std::shared_ptr<detail::ForwarderState>& sh, LogPublisher& publisher,
          const std::shared_ptr<Completion>& c) noexcept {
  bool handed_over = false;
  try {
    messaging::Envelope envelope;
    if (c->items.size() == 1) {
      envelope = to_envelope(c->items.front().record);
    } else {
      std::vector<const Record*> records;
      records.reserve(c->items.size());
      for (const Item& item : c->items)
        records.push_back(&item.record);
      envelope = to_batch_envelope(records);
    }
    const Severity severity = c->items.front().record.severity;
    c->sent_at = Clock::now();
    handed_over = true;
    publisher.publish(std::move(envelope), severity, [sh, c](bool ok) { complete(sh, c, ok); });
  } catch (...) {
    if (!handed_over)
      c->sent_at = Clock::now();  // a whole pause follows when the envelope could not be made
    complete(sh, c, false);
  }
}

// When the front's batch may go (the caller holds the lock; the queue is not empty): now, unless
// it can still grow, then once its first record has lingered. A batch can no longer grow when it
// is full or a record of another severity follows it; a flush or a detach sends at once.
Clock::time_point batch_due(const detail::ForwarderState& sh, std::size_t batch,
                            Clock::time_point now) {
  if (batch <= 1 || !sh.accepting || sh.flush_waiters > 0)
    return now;
  const Severity severity = sh.queue.front().record.severity;
  std::size_t run = 0;  // the front's batch: the records of its severity, up to a batch
  while (run < batch && run < sh.queue.size() && sh.queue[run].record.severity == severity)
    ++run;
  const bool closed = run == batch || run < sh.queue.size();
  return closed ? now : sh.queue.front().queued_at + sh.options.linger;
}

// Takes the front's batch off the queue (the caller holds the lock; the queue is not empty):
// up to `batch` records of the front's severity, fewer once they reach kMaxBatchBytes.
std::vector<Item> take_batch(detail::ForwarderState& sh, std::size_t batch) {
  std::vector<Item> items;
  const Severity severity = sh.queue.front().record.severity;
  std::size_t bytes = 0;
  while (!sh.queue.empty() && items.size() < batch &&
         sh.queue.front().record.severity == severity && bytes < kMaxBatchBytes) {
    bytes += approximate_bytes(sh.queue.front().record);
    items.push_back(std::move(sh.queue.front()));
    sh.queue.pop_front();
  }
  return items;
}

// Runs on the forwarding thread, which holds the shared pointers for as long as it runs.
void forward_loop(const std::shared_ptr<detail::ForwarderState>& sh,
                  const std::shared_ptr<LogPublisher>& publisher, std::uint64_t generation,
                  const std::shared_ptr<bool>& exited) {
  const auto interval = sh->options.drop_report_interval;
  const std::size_t max_in_flight = std::max<std::size_t>(1, sh->options.max_in_flight);
  const std::size_t max_batch = std::max<std::size_t>(1, sh->options.max_batch);
  std::unique_lock lock(sh->mu);
  while (sh->generation == generation) {
    const auto now = Clock::now();

    if (sh->unreported_console > 0 && now >= sh->next_console_report) {
      const std::uint64_t n = std::exchange(sh->unreported_console, 0);
      sh->next_console_report = now + interval;
      lock.unlock();
      sh->report_dropped(n);
      lock.lock();
      continue;
    }

    if (sh->unreported_broker > 0 && sh->broker_ok && now >= sh->next_broker_report) {
      const std::uint64_t n = std::exchange(sh->unreported_broker, 0);
      sh->next_broker_report = now + interval;
      try {
        // Ahead of the queue, even when it is full: this is what explains the gap.
        sh->queue.push_front(Item{sh->warning(dropped_message(n), {{"dropped", n}})});
      } catch (...) {
      }
    }

    const std::size_t window = sh->probing ? 1 : max_in_flight;
    const bool sendable = !sh->queue.empty() && sh->in_flight < window;
    const std::size_t batch = sh->probing ? 1 : max_batch;  // a probe carries one record
    const auto send_at = std::max(sendable ? batch_due(*sh, batch, now) : now, sh->resume_at);
    if (sendable && now >= send_at) {
      auto c = std::make_shared<Completion>();
      c->items = take_batch(*sh, batch);
      c->generation = generation;
      c->probe = sh->probing;
      ++sh->in_flight;
      lock.unlock();
      send(sh, *publisher, c);
      lock.lock();
      continue;
    }

    auto deadline = Clock::time_point::max();
    if (sendable)
      deadline = send_at;
    if (sh->unreported_console > 0)
      deadline = std::min(deadline, sh->next_console_report);
    if (sh->unreported_broker > 0 && sh->broker_ok) {
      deadline = std::min(deadline, sh->next_broker_report);
    }
    if (deadline == Clock::time_point::max()) {
      sh->wake.wait(lock);
    } else {
      sh->wake.wait_until(lock, deadline);
    }
  }
  *exited = true;
  sh->idle.notify_all();
}

}  // namespace

ForwarderOptions ForwarderOptions::from_env() {
  ForwarderOptions o;
  o.max_batch =
      static_cast<std::size_t>(env::get_int_in_range("WONDERLAND_LOG_FORWARD_BATCH", 64, 1, 1000));
  o.linger = std::chrono::milliseconds(
      env::get_int_in_range("WONDERLAND_LOG_FORWARD_LINGER_MS", 20, 0, 1000));
  return o;
}

BrokerForwarder::BrokerForwarder(std::string service, ForwarderOptions options,
                                 ConsoleReporter console)
    : options_(options),
      shared_(std::make_shared<detail::ForwarderState>(std::move(service), options,
                                                       std::move(console))) {}

BrokerForwarder::~BrokerForwarder() {
  detach(options_.flush_timeout);
}

std::uint64_t BrokerForwarder::attach(std::shared_ptr<LogPublisher> publisher) {
  if (!publisher)
    throw std::invalid_argument("log: attach needs a publisher");
  std::lock_guard control(control_mu_);
  detach_locked(options_.flush_timeout);
  std::uint64_t generation = 0;
  auto exited = std::make_shared<bool>(false);
  {
    std::lock_guard lock(shared_->mu);
    generation = ++shared_->generation;
    shared_->accepting = true;
    shared_->probing = false;
    shared_->broker_ok = false;
    shared_->backoff = options_.retry_min_backoff;
    shared_->resume_at = {};
    shared_->next_console_report = {};
    shared_->next_broker_report = {};
    worker_exited_ = exited;
  }
  worker_ = std::thread(forward_loop, shared_, std::move(publisher), generation, exited);
  shared_->accepting_hint.store(true, std::memory_order_release);
  return generation;
}

bool BrokerForwarder::detach(std::chrono::milliseconds timeout) {
  std::lock_guard control(control_mu_);
  return detach_locked(timeout);
}

bool BrokerForwarder::detach(std::uint64_t id, std::chrono::milliseconds timeout) {
  std::lock_guard control(control_mu_);
  {
    std::lock_guard lock(shared_->mu);
    if (shared_->generation != id || !shared_->accepting)
      return true;
  }
  return detach_locked(timeout);
}

bool BrokerForwarder::detach_locked(std::chrono::milliseconds timeout) {
  if (!worker_.joinable())
    return true;
  const auto deadline = Clock::now() + timeout;
  shared_->accepting_hint.store(false, std::memory_order_release);
  std::unique_lock lock(shared_->mu);
  shared_->accepting = false;
  shared_->wake.notify_all();  // what lingers for its batch goes now
  const bool flushed = shared_->idle.wait_until(
      lock, deadline, [&] { return shared_->queue.empty() && shared_->in_flight == 0; });

  ++shared_->generation;  // the thread exits at its next look
  const std::uint64_t abandoned = shared_->queue.size();
  shared_->queue.clear();
  shared_->dropped += abandoned;
  const std::uint64_t unreported = std::exchange(shared_->unreported_console, 0);
  shared_->wake.notify_all();
  // A thread that is not inside the publisher exits within microseconds; give it at least a
  // moment even when the flush used up the whole timeout.
  const auto exit_deadline = std::max(deadline, Clock::now() + std::chrono::milliseconds(50));
  std::shared_ptr<bool> exited = std::move(worker_exited_);
  const bool stopped = shared_->idle.wait_until(lock, exit_deadline, [&] { return *exited; });
  lock.unlock();

  if (stopped) {
    worker_.join();
  } else {
    worker_.detach();  // stuck in the publisher; it holds what it needs and exits on return
  }
  shared_->report_dropped(unreported);
  shared_->report_dropped(abandoned, "still queued for the broker when forwarding stopped");
  return flushed;
}

bool BrokerForwarder::attached() const noexcept {
  return shared_->accepting_hint.load(std::memory_order_acquire);
}

void BrokerForwarder::push(Record record) noexcept {
  if (!attached())
    return;
  std::uint64_t report = 0;
  {
    std::lock_guard lock(shared_->mu);
    if (!shared_->accepting)
      return;
    bool queued = false;
    const Severity severity = record.severity;
    if (shared_->queue.size() < options_.queue_capacity) {
      try {
        shared_->queue.push_back(Item{.record = std::move(record), .seq = shared_->next_seq++});
        queued = true;
      } catch (...) {
      }
    }
    if (queued) {
      // While a batch fills, the forwarding thread sleeps until its linger ends: it is woken
      // only when the queue was empty (it may wait with no deadline), when the batch is full or
      // when this record closes it. One wake-up per record is what batching saves.
      const auto& q = shared_->queue;
      if (options_.max_batch <= 1 || q.size() == 1 || q.size() >= options_.max_batch ||
          severity != q.front().record.severity) {
        shared_->wake.notify_one();
      }
      return;
    }
    shared_->drop_locked(1);
    // Reported from here when due, because the forwarding thread may itself be stuck in the
    // publisher. Writing one console line is what this thread does for every record anyway.
    const auto now = Clock::now();
    if (now >= shared_->next_console_report) {
      report = std::exchange(shared_->unreported_console, 0);
      shared_->next_console_report = now + options_.drop_report_interval;
    }
  }
  shared_->report_dropped(report);
}

bool BrokerForwarder::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(shared_->mu);
  ++shared_->flush_waiters;  // queued records go without waiting for their batches to fill
  shared_->wake.notify_all();
  const bool flushed = shared_->idle.wait_for(
      lock, timeout, [&] { return shared_->queue.empty() && shared_->in_flight == 0; });
  --shared_->flush_waiters;
  return flushed;
}

Stats BrokerForwarder::stats() const {
  std::lock_guard lock(shared_->mu);
  Stats s;
  s.forwarded = shared_->forwarded;
  s.dropped = shared_->dropped;
  s.queued = shared_->queue.size();
  s.in_flight = shared_->in_flight;
  s.publish_failures = shared_->failures;
  return s;
}

}  // namespace wonderland::log
