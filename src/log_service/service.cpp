#include "wonderland/log_service/service.hpp"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_set>

#include "wonderland/common/env.hpp"
#include "wonderland/common/ids.hpp"
#include "wonderland/log_service/protocol.hpp"
#include "wonderland/messaging/pubsub.hpp"
#include "wonderland/messaging/rpc.hpp"

namespace wonderland::log_service {
namespace {

using log_store::Record;

/// The most recent message ids, to recognize redeliveries. An id is claimed before its record
/// is written, so that copies handled at the same time are recognized too, and released again
/// when the write fails (the message is then retried).
class RecentIds {
 public:
  explicit RecentIds(std::size_t capacity) : capacity_(capacity) { set_.reserve(capacity); }
  /// Whether `id` was new (and is now remembered); always true for an empty id or capacity 0.
  bool claim(const std::string& id) {
    if (capacity_ == 0 || id.empty())
      return true;
    std::lock_guard lock(mu_);
    if (!set_.insert(id).second)
      return false;
    order_.push_back(id);
    if (order_.size() > capacity_) {
      set_.erase(order_.front());
      order_.pop_front();
    }
    return true;
  }
  void release(const std::string& id) {
    if (capacity_ == 0 || id.empty())
      return;
    std::lock_guard lock(mu_);
    set_.erase(id);  // its entry in order_ goes when it reaches the front
  }

 private:
  std::size_t capacity_;
  std::mutex mu_;
  std::unordered_set<std::string> set_;
  std::deque<std::string> order_;
};

/// Publishes stored records on the live exchange from a thread of its own.
class LivePublisher {
 public:
  LivePublisher(std::size_t capacity, messaging::ExchangeName exchange)
      : capacity_(capacity), exchange_(std::move(exchange)) {}
  ~LivePublisher() { stop(std::chrono::milliseconds(0)); }

  void start(messaging::Connection* connection) {
    connection_ = connection;
    thread_ = std::thread([this] { run(); });
  }

  /// Never blocks for long: records beyond the capacity are counted and left out.
  void push(std::vector<log_store::StoredRecord>&& batch) {
    std::lock_guard lock(mu_);
    if (stopping_)
      return;
    for (auto& r : batch) {
      if (!r.live)
        continue;
      if (queue_.size() >= capacity_) {
        ++dropped_;
        continue;
      }
      queue_.push_back(std::move(r));
    }
    cv_.notify_one();
  }

  /// Publishes what is queued for at most `drain`, then stops the thread.
  void stop(std::chrono::milliseconds drain) {
    {
      std::unique_lock lock(mu_);
      if (!thread_.joinable())
        return;
      idle_cv_.wait_for(lock, drain, [this] { return queue_.empty() && !busy_; });
      stopping_ = true;
      dropped_ += queue_.size();
      queue_.clear();
    }
    cv_.notify_all();
    thread_.join();
  }

  std::uint64_t published() const {
    std::lock_guard lock(mu_);
    return published_;
  }
  std::uint64_t dropped() const {
    std::lock_guard lock(mu_);
    return dropped_;
  }

 private:
  void run() {
    std::deque<log_store::StoredRecord> work;
    for (;;) {
      {
        std::unique_lock lock(mu_);
        busy_ = false;
        idle_cv_.notify_all();
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (stopping_)
          return;
        work.swap(queue_);
        busy_ = true;
      }
      std::uint64_t sent = 0;
      for (auto& stored : work) {
        const Record& r = stored.record;
        messaging::Outgoing out;
        out.exchange = exchange_;
        out.routing_key = live_routing_key(r);
        out.envelope.message_id = new_uuid();
        out.envelope.type = kRecordType;
        out.envelope.source = r.service;
        out.raw_body = live_wire(r, stored.fields_json, out.envelope.message_id);
        out.delivery = messaging::Delivery::kTransient;
        // Long enough to wait out this connection's own reconnect (at most 6 s after the
        // broker is back), so that records stored meanwhile still reach the viewers.
        out.timeout = std::chrono::seconds(10);
        try {
          connection_->publish(std::move(out), [](const Status&) {});
          ++sent;
        } catch (const std::exception& e) {
          spdlog::debug("live publish failed: {}", e.what());
        }
      }
      work.clear();
      std::lock_guard lock(mu_);
      published_ += sent;
    }
  }

  const std::size_t capacity_;
  const messaging::ExchangeName exchange_;
  messaging::Connection* connection_ = nullptr;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::deque<log_store::StoredRecord> queue_;
  bool stopping_ = false;
  bool busy_ = false;
  std::uint64_t published_ = 0;
  std::uint64_t dropped_ = 0;
  std::thread thread_;
};

std::string default_dir() {
  std::string var = env::get("WONDERLAND_VAR_DIR", "");
  return var.empty() ? std::string("var/logs/csv") : var + "/logs/csv";
}

}  // namespace

ServiceOptions ServiceOptions::from_env() {
  ServiceOptions o;
  o.store.writer.dir = env::get("WONDERLAND_LOG_DIR", default_dir());
  o.store.writer.max_bytes = static_cast<std::uint64_t>(
      env::get_int_in_range("WONDERLAND_LOG_MAX_BYTES", 10LL * 1024 * 1024, 1, 1LL << 40));
  o.store.writer.max_files =
      static_cast<unsigned>(env::get_int_in_range("WONDERLAND_LOG_MAX_FILES", 10, 1, 10000));
  o.store.writer.fsync = env::get_bool("WONDERLAND_LOG_FSYNC", false);
  o.store.index_capacity = static_cast<std::size_t>(
      env::get_int_in_range("WONDERLAND_LOG_INDEX_RECORDS", 100'000, 0, 100'000'000));
  o.store.linger = std::chrono::microseconds(
      env::get_int_in_range("WONDERLAND_LOG_LINGER_US", 1000, 0, 1'000'000));
  o.prefetch =
      static_cast<std::uint16_t>(env::get_int_in_range("WONDERLAND_LOG_PREFETCH", 1000, 1, 65535));
  o.concurrency = static_cast<unsigned>(
      env::get_int_in_range("WONDERLAND_LOG_CONCURRENCY", o.store.writer.fsync ? 64 : 16, 0, 1024));
  o.live_workflow_events = env::get_bool("WONDERLAND_LOG_LIVE_WORKFLOW_EVENTS", false);
  // One broker, several systems (tests, benchmarks): each system's queues carry its prefix.
  const std::string prefix = env::get("WONDERLAND_QUEUE_PREFIX", "");
  for (messaging::QueueName* q :
       {&o.topology.records_queue, &o.topology.workflow_queue, &o.topology.query_queue}) {
    *q = messaging::QueueName{prefix + q->str()};
  }
  return o;
}

struct LoggingService::State {
  ServiceOptions options;
  RecentIds recent;
  LivePublisher live;
  std::unique_ptr<log_store::LogStore> store;
  std::unique_ptr<messaging::Connection> consume_conn;
  std::unique_ptr<messaging::Connection> publish_conn;
  messaging::ConsumerHandle records_consumer;
  messaging::ConsumerHandle workflow_consumer;
  std::unique_ptr<messaging::RpcServer> query_server;
  std::atomic<std::uint64_t> records{0}, workflow_events{0}, duplicates{0}, store_failures{0},
      queries{0};
  std::mutex stop_mu;
  bool stopped = false;

  explicit State(ServiceOptions o)
      : options(std::move(o)),
        recent(options.dedup_window),
        live(options.live_queue_capacity, options.topology.live_exchange) {}

  // Also on a failed construction: nothing may use a connection once it is gone.
  ~State() {
    records_consumer.cancel();
    workflow_consumer.cancel();
    query_server.reset();
    live.stop(std::chrono::milliseconds(0));
  }
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  // Stores one message's record; returns only once it is written (then the consumer acks).
  void store_one(const messaging::Envelope& e, Record record, std::atomic<std::uint64_t>& counter,
                 bool to_live_feed = true) {
    std::vector<std::pair<std::string, Record>> one;
    one.emplace_back(e.message_id, std::move(record));
    store_batch(std::move(one), counter, to_live_feed);
  }

  // Stores the records of one message in one append (one write, one wait), each under its own
  // id, so that a redelivered message is stored once; duplicates are skipped.
  void store_batch(std::vector<std::pair<std::string, Record>>&& batch,
                   std::atomic<std::uint64_t>& counter, bool to_live_feed) {
    std::vector<std::string> claimed;
    std::vector<Record> fresh;
    for (auto& [id, record] : batch) {
      if (!recent.claim(id)) {
        ++duplicates;
        continue;
      }
      claimed.push_back(id);
      fresh.push_back(std::move(record));
    }
    if (claimed.empty())
      return;
    try {
      store->append(std::move(fresh), to_live_feed);
    } catch (const std::exception& ex) {
      for (const auto& id : claimed)
        recent.release(id);
      ++store_failures;
      spdlog::error("cannot store {} record(s), the first {}: {}", claimed.size(), claimed.front(),
                    ex.what());
      throw;  // not acknowledged: retried, finally dead-lettered
    }
    counter += claimed.size();
  }

  // The store; its written batches go to the live feed.
  void open_store() {
    log_store::StoreOptions store_options = options.store;
    if (options.concurrency > 0) {
      // Once every handler thread waits in the batch, nobody else can join it: write at once.
      store_options.max_batch = std::min<std::size_t>(store_options.max_batch, options.concurrency);
    } else {
      store_options.linger = std::chrono::microseconds(0);  // one handler, on the I/O thread
    }
    store = std::make_unique<log_store::LogStore>(
        store_options,
        [this](std::vector<log_store::StoredRecord>&& batch) { live.push(std::move(batch)); });
  }

  // One connection to consume, one to publish (RPC replies and the live feed, which starts).
  void open_connections(messaging::ConnectionOptions connection) {
    messaging::ConnectionOptions publish_options = connection;
    publish_options.publisher_confirms = false;  // RPC replies and the best-effort live feed
    publish_conn = std::make_unique<messaging::Connection>(std::move(publish_options));
    consume_conn = std::make_unique<messaging::Connection>(std::move(connection));
    declare_live_exchange(*publish_conn, options.topology.live_exchange);
    live.start(publish_conn.get());
  }

  void serve_queries() {
    query_server = std::make_unique<messaging::RpcServer>(
        *publish_conn,
        messaging::RpcServerOptions{options.topology.query_queue, 16,
                                    std::max(1U, options.query_concurrency)},
        [this](const messaging::Envelope& request) { return answer_query(request); });
  }

  Result<nlohmann::json> answer_query(const messaging::Envelope& request) {
    if (request.type != kQueryType) {
      return Error::of(codes::kInvalidArgument, "unsupported request type '" + request.type +
                                                    "' (expected '" + kQueryType + "')");
    }
    auto query = log_store::Query::from_json(request.body);
    if (!query)
      return query.error();
    ++queries;
    return store->query(*query).to_json();
  }

  void consume_records() {
    messaging::Subscription sub;
    sub.exchange = options.topology.logs_exchange;
    sub.type = messaging::ExchangeType::kDirect;
    sub.queue = options.topology.records_queue;
    sub.binding_keys = {"debug", "info", "warning", "error"};
    sub.prefetch = options.prefetch;
    sub.max_attempts = options.max_attempts;
    sub.concurrency = options.concurrency;
    records_consumer = messaging::subscribe(
        *consume_conn, sub,
        [this](const messaging::Envelope& e, const messaging::DeliveryInfo& info) {
          if (e.type == kRecordBatchType) {
            store_record_batch(e, info.routing_key);
            return;
          }
          store_one(e, record_from_log_envelope(e, info.routing_key), records);
        });
  }

  // A process's forwarder batches its records: one record per element, each under an id of its
  // own so that a redelivered batch is stored once.
  void store_record_batch(const messaging::Envelope& e, std::string_view routing_key) {
    if (!e.body.is_object())
      throw messaging::PoisonMessage("log.records whose body is not an object");
    auto list = e.body.find("records");
    if (list == e.body.end() || !list->is_array())
      throw messaging::PoisonMessage("log.records without a records array");
    std::vector<std::pair<std::string, Record>> batch;
    batch.reserve(list->size());
    for (std::size_t i = 0; i < list->size(); ++i) {
      auto [id, record] = batched_log_record(e, routing_key, (*list)[i], i);
      batch.emplace_back(std::move(id), std::move(record));
    }
    store_batch(std::move(batch), records, true);
  }

  void consume_workflow_events() {
    messaging::Subscription sub;
    sub.exchange = options.topology.workflow_exchange;
    sub.type = messaging::ExchangeType::kTopic;
    sub.queue = options.topology.workflow_queue;
    sub.binding_keys = {"workflow.#"};
    sub.prefetch = options.prefetch;
    sub.max_attempts = options.max_attempts;
    sub.concurrency = options.concurrency == 0 ? 0 : std::max(1U, options.concurrency / 4);
    workflow_consumer = messaging::subscribe(
        *consume_conn, sub, [this](const messaging::Envelope& e, const messaging::DeliveryInfo&) {
          if (e.type == kWorkflowBatchType) {
            store_workflow_batch(e);
            return;
          }
          store_one(e, record_from_workflow_envelope(e), workflow_events,
                    options.live_workflow_events);
        });
  }

  // The mediator batches its workflow events: one record per event, each with an id of its own
  // so that a redelivered batch is stored once.
  void store_workflow_batch(const messaging::Envelope& e) {
    // Read in place: the batch (every event's data) is never copied, only each record's fields.
    if (!e.body.is_object())
      throw messaging::PoisonMessage("workflow.events whose body is not an object");
    auto events = e.body.find("events");
    if (events == e.body.end())
      return;  // nothing to store
    if (!events->is_array())
      throw messaging::PoisonMessage("workflow.events without an events array");
    std::vector<std::pair<std::string, Record>> batch;
    batch.reserve(events->size());
    for (std::size_t i = 0; i < events->size(); ++i) {
      auto [id, record] = batched_workflow_event(e, (*events)[i], i);
      batch.emplace_back(std::move(id), std::move(record));
    }
    store_batch(std::move(batch), workflow_events, options.live_workflow_events);
  }
};

LoggingService::LoggingService(messaging::ConnectionOptions connection, ServiceOptions options)
    : state_(std::make_unique<State>(std::move(options))) {
  State& s = *state_;
  s.open_store();
  s.open_connections(std::move(connection));
  s.serve_queries();
  s.consume_records();
  s.consume_workflow_events();
  const Topology& t = s.options.topology;
  spdlog::info(
      "logging: storing records of '{}' and events of '{}' in {} (rotate at {} bytes, keep {} "
      "files); "
      "queries on '{}', live feed on '{}'",
      t.logs_exchange.str(), t.workflow_exchange.str(), s.options.store.writer.dir.string(),
      s.options.store.writer.max_bytes, s.options.store.writer.max_files, t.query_queue.str(),
      t.live_exchange.str());
}

LoggingService::~LoggingService() {
  stop();
}

void LoggingService::stop() {
  State& s = *state_;
  std::lock_guard lock(s.stop_mu);
  if (s.stopped)
    return;
  s.stopped = true;
  // Consumers first: records in progress are written and acknowledged before this returns.
  s.records_consumer.cancel();
  s.workflow_consumer.cancel();
  s.query_server.reset();
  s.live.stop(std::chrono::seconds(2));
  s.consume_conn.reset();
  s.publish_conn.reset();
  spdlog::info("logging: stopped after storing {} records and {} workflow events", s.records.load(),
               s.workflow_events.load());
}

ServiceStats LoggingService::stats() const {
  const State& s = *state_;
  ServiceStats out;
  out.records = s.records.load();
  out.workflow_events = s.workflow_events.load();
  out.duplicates = s.duplicates.load();
  out.store_failures = s.store_failures.load();
  out.queries = s.queries.load();
  out.live_published = s.live.published();
  out.live_dropped = s.live.dropped();
  out.store = s.store->stats();
  return out;
}

const log_store::LogStore& LoggingService::store() const {
  return *state_->store;
}

const ServiceOptions& LoggingService::options() const noexcept {
  return state_->options;
}

}  // namespace wonderland::log_service
