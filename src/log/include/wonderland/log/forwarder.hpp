// Forwarding log records to the broker without ever making the caller wait for it.
//
// `push` puts a record into a bounded in-memory queue and returns; one background thread
// drains the queue into a `LogPublisher`, with at most `max_in_flight` publishes outstanding.
//
// Batching (`max_batch` > 1): consecutive queued records of one severity travel in one message
// of type `log.records`, up to `max_batch` of them. A record waits at most `linger` for others
// to join it; a full batch, a record of another severity behind it, a flush and a detach send
// at once. One message per record costs the broker, the publisher's confirm and the logging
// service's consumer the same work whatever the record's size, so a busy process sends a few
// messages where it logged many records.
//
// While the broker is unreachable:
//   * a failed record goes back to its place at the head of the queue, and so does each record
//     of a failed batch: the queue stays in the order the records were logged, also when the
//     batches in flight fail together (after `max_attempts` failures a record is dropped), and
//     publishing pauses: after the first failure it resumes with one record at a time
//     ("probing"), and each failed probe doubles the pause, from `retry_min_backoff` up to
//     `retry_max_backoff`. The pause counts from when the failed publish was sent, so a publish
//     that a disconnected connection held until its deadline is followed by the next probe at once:
//     one probe waits in the connection, and forwarding resumes as soon as the broker is back. The
//     first success ends the pause and restores full speed.
//   * when the queue is full, new records are dropped and counted. The count is reported on the
//     console at most once per `drop_report_interval`, and once the broker accepts records
//     again, as a warning record "dropped N log records while the broker was unreachable"
//     (field `dropped` = N) sent ahead of the queued ones.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "wonderland/log/publisher.hpp"
#include "wonderland/log/record.hpp"

namespace wonderland::log {

struct ForwarderOptions {
  /// Records waiting to be published; beyond it new records are dropped.
  std::size_t queue_capacity = 10000;
  /// Publishes outstanding at once while the broker is healthy.
  std::size_t max_in_flight = 256;
  /// Publish attempts per record before it is dropped.
  int max_attempts = 5;
  std::chrono::milliseconds retry_min_backoff{100};
  std::chrono::milliseconds retry_max_backoff{5000};
  /// Minimum time between two reports of dropped records (console and broker each).
  std::chrono::milliseconds drop_report_interval{10000};
  /// How long detaching (and shutdown) waits for queued records to be published.
  std::chrono::milliseconds flush_timeout{2000};
  /// Records of one severity sent in one message at most; 1 sends each record alone, as a
  /// `log.record` (also always while probing, so that an outage costs one record an attempt).
  std::size_t max_batch = 1;
  /// How long a queued record waits for others to fill its batch (only with max_batch > 1).
  std::chrono::milliseconds linger{0};

  /// The defaults, with batching from WONDERLAND_LOG_FORWARD_BATCH (records per message,
  /// default 64, 1..1000) and WONDERLAND_LOG_FORWARD_LINGER_MS (default 20, 0..1000). Throws
  /// std::invalid_argument on a value that is not a number in range.
  static ForwarderOptions from_env();
};

/// Counters since the forwarder was created.
struct Stats {
  std::uint64_t forwarded = 0;         ///< Records the publisher reported as published.
  std::uint64_t dropped = 0;           ///< Records given up: queue full, attempts exhausted,
                                       ///< or still queued when detaching.
  std::uint64_t queued = 0;            ///< Records waiting in the queue now.
  std::uint64_t in_flight = 0;         ///< Publishes outstanding now.
  std::uint64_t publish_failures = 0;  ///< Failed publish attempts.
};

namespace detail {
struct ForwarderState;
}

class BrokerForwarder {
 public:
  /// Writes a record on the console only (never to the broker); used for drop reports. Called
  /// from the forwarding thread; must be thread-safe and must not block for long.
  using ConsoleReporter = std::function<void(const Record&)>;

  /// `service` names the reports' records. Nothing is forwarded until `attach`.
  BrokerForwarder(std::string service, ForwarderOptions options, ConsoleReporter console);
  /// Detaches with `options.flush_timeout`.
  ~BrokerForwarder();
  BrokerForwarder(const BrokerForwarder&) = delete;
  BrokerForwarder& operator=(const BrokerForwarder&) = delete;

  /// Starts forwarding to `publisher` (replacing, after detaching, any previous one). Returns
  /// an id for `detach(id, timeout)`. Throws std::invalid_argument when `publisher` is null.
  std::uint64_t attach(std::shared_ptr<LogPublisher> publisher);
  /// Stops accepting records, waits up to `timeout` for the queue to drain, then stops the
  /// forwarding thread. Records still queued are dropped (and reported on the console).
  /// Returns whether everything was published (true when nothing was attached). Never waits
  /// much longer than `timeout`, even when the publisher is stuck: a thread stuck in the
  /// publisher is left to finish on its own.
  bool detach(std::chrono::milliseconds timeout);
  /// Detaches only when the current attachment is the one `attach` returned `id` for; returns
  /// true otherwise.
  bool detach(std::uint64_t id, std::chrono::milliseconds timeout);
  /// Whether records are being accepted (attached and not detaching). Cheap.
  bool attached() const noexcept;

  /// Queues a record for publishing; never blocks on the publisher and never throws. Ignored
  /// while detached; dropped and counted when the queue is full.
  void push(Record record) noexcept;
  /// Waits up to `timeout` until nothing is queued or in flight; returns whether that happened.
  bool flush(std::chrono::milliseconds timeout);
  Stats stats() const;
  const ForwarderOptions& options() const noexcept { return options_; }

 private:
  bool detach_locked(std::chrono::milliseconds timeout);

  ForwarderOptions options_;
  std::shared_ptr<detail::ForwarderState> shared_;
  std::mutex control_mu_;  // serializes attach and detach
  std::thread worker_;
  std::shared_ptr<bool> worker_exited_;  // guarded by the shared state's mutex
};

}  // namespace wonderland::log
