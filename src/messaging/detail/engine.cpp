#include "detail/engine.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "wonderland/common/ids.hpp"

namespace wonderland::messaging::detail {
namespace {

constexpr const char* kAttemptHeader = "x-wonderland-attempt";
constexpr const char* kReasonHeader = "x-wonderland-reason";
constexpr const char* kQueueHeader = "x-wonderland-queue";
constexpr const char* kDirectReplyTo = "amq.rabbitmq.reply-to";

Error unavailable(const std::string& what) { return Error{codes::kUnavailable, what, true}; }

std::chrono::milliseconds retry_backoff(int attempt) {
  // 100 ms, 200 ms, 400 ms ... capped at 5 s: a failing handler does not spin.
  auto ms = 100LL << std::min(attempt - 1, 6);
  return std::chrono::milliseconds(std::min<long long>(ms, 5000));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// WorkerPool

WorkerPool::WorkerPool(unsigned threads) {
  for (unsigned i = 0; i < threads; ++i) {
    threads_.emplace_back([this] {
      for (;;) {
        std::function<void()> job;
        {
          std::unique_lock lock(mu_);
          cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
          if (jobs_.empty()) return;
          job = std::move(jobs_.front());
          jobs_.pop_front();
        }
        job();
      }
    });
  }
}

WorkerPool::~WorkerPool() { stop(); }

void WorkerPool::post(std::function<void()> job) {
  {
    std::lock_guard lock(mu_);
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void WorkerPool::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable() && t.get_id() != std::this_thread::get_id()) t.join();
  }
  threads_.clear();
}

// ---------------------------------------------------------------------------------------------
// Engine types

struct Engine::ConsumerState {
  std::uint64_t id = 0;
  ConsumerOptions options;
  Handler handler;
  std::unique_ptr<WorkerPool> pool;  // null: handler runs on the I/O thread
  std::string tag;                   // on the current channel; empty when not consuming
};

struct Engine::Job {
  std::uint64_t generation = 0;
  DeliverEvent delivery;
  Envelope envelope;
  int attempt = 1;
  /// From the message's AMQP expiration, counted from its arrival in this process: a message
  /// still waiting for a handler thread after this is dropped (its sender gave up on it).
  std::optional<Clock::time_point> expires_at;
};

// ---------------------------------------------------------------------------------------------
// Lifecycle

Engine::Engine(ConnectionOptions options)
    : options_(std::move(options)), url_(parse_amqp_url(options_.url)) {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
}

Engine::~Engine() {
  shutdown();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void Engine::start() {
  io_thread_ = std::thread([this] { run(); });
  io_thread_id_ = io_thread_.get_id();
}

void Engine::shutdown() {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  stop_ = true;
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
  if (io_thread_.joinable()) io_thread_.join();
  std::map<std::uint64_t, std::shared_ptr<ConsumerState>> consumers;
  {
    std::lock_guard lock(consumers_mu_);
    consumers.swap(consumers_);
  }
  for (auto& [id, c] : consumers) {
    if (c->pool) c->pool->stop();
  }
}

void Engine::post(Op op) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (stopped_) {
      if (auto* p = std::get_if<PendingPublish>(&op)) {
        if (p->done) p->done(Error{codes::kCancelled, "connection is shut down", false});
      }
      return;
    }
    ops_.push_back(std::move(op));
    if (!wake_pending_) {
      wake_pending_ = true;
      wake = !on_io_thread();
    }
  }
  if (wake) {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
  }
}

bool Engine::wait_connected(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(connected_mu_);
  return connected_cv_.wait_for(lock, timeout, [this] { return connected_.load(); });
}

ConnectionStats Engine::stats() const {
  ConnectionStats s;
  s.connects = stats_.connects;
  s.published = stats_.published;
  s.confirmed = stats_.confirmed;
  s.publish_failures = stats_.publish_failures;
  s.delivered = stats_.delivered;
  s.dead_lettered = stats_.dead_lettered;
  return s;
}

// ---------------------------------------------------------------------------------------------
// Public operations (any thread)

void Engine::declare(Declaration d, std::chrono::milliseconds timeout) {
  auto promise = std::make_shared<std::promise<void>>();
  auto future = promise->get_future();
  post(std::function<void()>([this, d = std::move(d), promise]() mutable {
    if (!channel_) {
      pending_declares_.push_back({std::move(d), promise});
      return;
    }
    try {
      apply(d);
      record(d);
      promise->set_value();
    } catch (const AmqpError& e) {
      if (e.refused_by_broker()) {
        if (auto passive = accept_existing(d, e)) {
          // The refusal closed the channel: declare it passively on the next connection.
          pending_declares_.push_back({Declaration(std::move(*passive)), promise});
        } else {
          promise->set_exception(std::make_exception_ptr(
              ErrorException(Error{codes::kFailedPrecondition, e.what(), false})));
        }
        disconnect(e.what(), true);
      } else {
        pending_declares_.push_back({std::move(d), promise});
        disconnect(e.what(), false);
      }
    }
  }));
  if (future.wait_for(timeout) != std::future_status::ready) {
    throw ErrorException(Error{codes::kDeadlineExceeded,
                               "declaration not confirmed by the broker within " +
                                   std::to_string(timeout.count()) + " ms",
                               true});
  }
  future.get();
}

void Engine::on_channel_and_wait(const char* what, std::chrono::milliseconds timeout,
                                 std::function<void(AmqpChannel&)> op) {
  auto promise = std::make_shared<std::promise<void>>();
  auto future = promise->get_future();
  post(std::function<void()>([this, op = std::move(op), promise] {
    if (!channel_) {
      promise->set_exception(
          std::make_exception_ptr(ErrorException(unavailable("not connected to the broker"))));
      return;
    }
    try {
      op(*channel_);
      promise->set_value();
    } catch (const AmqpError& e) {
      promise->set_exception(std::make_exception_ptr(ErrorException(unavailable(e.what()))));
      disconnect(e.what(), e.refused_by_broker());
    }
  }));
  if (future.wait_for(timeout) != std::future_status::ready) {
    throw ErrorException(Error{codes::kDeadlineExceeded, std::string(what) + " timed out", true});
  }
  future.get();
}

void Engine::delete_queue(const QueueName& queue, std::chrono::milliseconds timeout) {
  on_channel_and_wait("queue.delete", timeout, [queue](AmqpChannel& channel) { channel.delete_queue(queue); });
}

void Engine::delete_exchange(const ExchangeName& exchange, std::chrono::milliseconds timeout) {
  on_channel_and_wait("exchange.delete", timeout,
                      [exchange](AmqpChannel& channel) { channel.delete_exchange(exchange); });
}

std::optional<RawMessage> Engine::get(const QueueName& queue, std::chrono::milliseconds timeout) {
  auto promise = std::make_shared<std::promise<std::optional<RawMessage>>>();
  auto future = promise->get_future();
  post(std::function<void()>([this, queue, promise] {
    auto fail = [&promise](Error e) {
      promise->set_exception(std::make_exception_ptr(ErrorException(std::move(e))));
    };
    if (!channel_) return fail(unavailable("not connected to the broker"));
    if (!by_tag_.empty()) {
      return fail(Error{codes::kFailedPrecondition, "get on a connection that has consumers", false});
    }
    try {
      auto ev = channel_->get(queue.str());
      if (!ev) return promise->set_value(std::nullopt);
      RawMessage m;
      m.body = std::move(ev->body);
      m.routing_key = std::move(ev->routing_key);
      m.message_id = std::move(ev->properties.message_id);
      for (auto& [k, v] : ev->properties.string_headers) m.string_headers[k] = v;
      for (auto& [k, v] : ev->properties.int_headers) m.int_headers[k] = v;
      promise->set_value(std::move(m));
    } catch (const AmqpError& e) {
      fail(unavailable(e.what()));
      disconnect(e.what(), e.refused_by_broker());
    }
  }));
  if (future.wait_for(timeout) != std::future_status::ready) {
    throw ErrorException(Error{codes::kDeadlineExceeded, "basic.get timed out", true});
  }
  return future.get();
}

std::uint64_t Engine::message_count(const QueueName& queue, std::chrono::milliseconds timeout) {
  auto count = std::make_shared<std::atomic<std::uint64_t>>(0);
  on_channel_and_wait("queue.declare (passive)", timeout, [count, queue](AmqpChannel& channel) {
    count->store(channel.message_count(queue));
  });
  return count->load();
}

void Engine::publish(Outgoing m, PublishCallback done) {
  PendingPublish p;
  p.id = next_id_++;
  p.exchange = m.exchange.str();
  p.routing_key = std::move(m.routing_key);
  p.properties.message_id = m.envelope.message_id;
  p.properties.type = m.envelope.type;
  p.properties.app_id = m.envelope.source.empty() ? options_.service : m.envelope.source;
  p.properties.persistent = m.delivery == Delivery::kPersistent;
  p.properties.reply_to = std::move(m.reply_to);
  p.properties.correlation_id = std::move(m.rpc_correlation_id);
  if (m.expiration) {
    p.properties.expiration = std::to_string(std::max<std::int64_t>(0, m.expiration->count()));
  }
  if (m.envelope.source.empty()) m.envelope.source = options_.service;
  p.body = m.raw_body ? std::move(*m.raw_body) : m.envelope.serialize();
  p.mandatory = m.mandatory;
  p.deadline = Clock::now() + m.timeout;
  p.done = std::move(done);
  post(std::move(p));
}

std::uint64_t Engine::add_consumer(ConsumerOptions options, Handler handler) {
  auto c = std::make_shared<ConsumerState>();
  c->id = next_id_++;
  c->options = std::move(options);
  c->handler = std::move(handler);
  if (c->options.concurrency > 0) c->pool = std::make_unique<WorkerPool>(c->options.concurrency);
  {
    std::lock_guard lock(consumers_mu_);
    consumers_[c->id] = c;
  }
  post(std::function<void()>([this, c] {
    if (channel_) {
      try {
        start_consumer(*c);
      } catch (const AmqpError& e) {
        spdlog::error("cannot consume from queue '{}': {}", c->options.queue.str(), e.what());
        disconnect(e.what(), e.refused_by_broker());
      }
    }
  }));
  return c->id;
}

void Engine::remove_consumer(std::uint64_t id) {
  std::shared_ptr<ConsumerState> c;
  {
    std::lock_guard lock(consumers_mu_);
    auto it = consumers_.find(id);
    if (it == consumers_.end()) return;
    c = it->second;
    consumers_.erase(it);
  }
  auto promise = std::make_shared<std::promise<void>>();
  auto future = promise->get_future();
  post(std::function<void()>([this, c, promise] {
    if (channel_ && !c->tag.empty()) {
      by_tag_.erase(c->tag);
      try {
        channel_->cancel(c->tag);
      } catch (const AmqpError& e) {
        disconnect(e.what(), e.refused_by_broker());
      }
    }
    c->tag.clear();
    promise->set_value();
  }));
  if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    spdlog::warn("consumer of '{}' did not cancel within 10 s", c->options.queue.str());
  }
  // Handlers already queued run to completion; their acknowledgements still reach the channel.
  if (c->pool) c->pool->stop();
}

void Engine::rpc_call(RpcRequest request, RpcCallback done) {
  std::uint64_t id = next_id_++;
  Outgoing m;
  m.exchange = exchanges::kDefault;
  m.routing_key = request.queue.str();
  m.envelope = std::move(request.envelope);
  m.delivery = request.delivery;
  m.timeout = request.timeout;
  // A request still queued when its caller gives up is dropped by the broker, not worked on.
  m.expiration = request.timeout;
  m.reply_to = kDirectReplyTo;
  m.rpc_correlation_id = std::to_string(id);
  auto deadline = Clock::now() + request.timeout;
  auto timeout_ms = request.timeout.count();
  post(std::function<void()>([this, id, deadline, timeout_ms, done = std::move(done)]() mutable {
    rpcs_.emplace(id, PendingRpc{std::move(done), 0});
    schedule(
        deadline,
        [this, id, timeout_ms] {
          complete_rpc(id, Error{codes::kDeadlineExceeded,
                                 "no reply within " + std::to_string(timeout_ms) + " ms", true});
        },
        [this, id] { return rpcs_.count(id) != 0; });
  }));
  // The publish completes with the broker's confirm (or at once without confirms); only a
  // failure matters here, since the reply completes the call.
  publish(std::move(m), [this, id](Status s) {
    if (!s.ok()) complete_rpc(id, s.error());
  });
}

// ---------------------------------------------------------------------------------------------
// The I/O loop

void Engine::run() {
  next_connect_at_ = Clock::now();
  while (!stop_) {
    if (!channel_ && Clock::now() >= next_connect_at_) try_connect();
    pollfd fds[2];
    fds[0] = {wake_fd_, POLLIN, 0};
    fds[1] = {channel_ ? channel_->fd() : -1, POLLIN, 0};
    int timeout = poll_timeout_ms();
    int n = ::poll(fds, 2, timeout);
    if (n < 0 && errno != EINTR) {
      spdlog::critical("poll failed: {}", std::strerror(errno));
      break;
    }
    if (fds[0].revents & POLLIN) {
      std::uint64_t v;
      [[maybe_unused]] auto r = ::read(wake_fd_, &v, sizeof v);
    }
    run_ops();
    if (channel_) {
      auto now = Clock::now();
      bool readable = (fds[1].revents & (POLLIN | POLLERR | POLLHUP)) != 0;
      if (readable) last_received_ = now;
      auto hb = std::chrono::seconds(channel_->heartbeat_s());
      if (readable || channel_->has_buffered() ||
          (hb.count() > 0 && now - last_heartbeat_check_ > hb / 3)) {
        last_heartbeat_check_ = now;
        read_events();
      }
      if (channel_ && hb.count() > 0 && now - last_received_ > 2 * hb + std::chrono::seconds(1)) {
        disconnect("missed heartbeats from the broker", false);
      }
    }
    run_timers();
  }
  fail_everything();
}

int Engine::poll_timeout_ms() {
  {
    std::lock_guard lock(mu_);
    if (!ops_.empty()) return 0;
  }
  if (channel_ && channel_->has_buffered()) return 0;
  auto now = Clock::now();
  auto limit = now + std::chrono::milliseconds(1000);
  if (channel_ && channel_->heartbeat_s() > 0) {
    limit = std::min(limit, last_heartbeat_check_ + std::chrono::seconds(channel_->heartbeat_s()) / 3);
  }
  if (!channel_) limit = std::min(limit, next_connect_at_);
  drop_dead_timers();
  if (!timers_.empty()) limit = std::min(limit, timers_.top().at);
  if (limit <= now) return 0;
  return static_cast<int>(
      std::chrono::ceil<std::chrono::milliseconds>(limit - now).count());
}

void Engine::run_ops() {
  std::vector<Op> ops;
  {
    std::lock_guard lock(mu_);
    ops.swap(ops_);
    wake_pending_ = false;
  }
  // Several operations at once (publishes, acknowledgements): cork the socket so that the kernel
  // sends them in full segments instead of one segment, and one trip through the network stack,
  // per message. Uncorking at the end sends what is left at once.
  AmqpChannel* corked = ops.size() > 1 && channel_ ? channel_.get() : nullptr;
  if (corked != nullptr) corked->cork(true);
  for (auto& op : ops) {
    if (auto* f = std::get_if<std::function<void()>>(&op)) {
      (*f)();
    } else {
      send(std::move(std::get<PendingPublish>(op)));
    }
  }
  if (corked != nullptr && channel_.get() == corked) corked->cork(false);
}

void Engine::try_connect() {
  try {
    auto channel = std::make_unique<AmqpChannel>(
        url_, options_.tls, options_.service, static_cast<int>(options_.heartbeat.count()),
        options_.connect_timeout);
    if (options_.publisher_confirms) channel->confirm_select();
    channel_ = std::move(channel);
    ++generation_;
    publish_sequence_ = 0;
    reply_tag_ = channel_->consume(kDirectReplyTo, true);
    for (const auto& d : topology_) apply(d);
    auto pending = std::move(pending_declares_);
    pending_declares_.clear();
    for (std::size_t i = 0; i < pending.size(); ++i) {
      try {
        apply(pending[i].declaration);
        record(pending[i].declaration);
        pending[i].promise->set_value();
      } catch (const AmqpError& e) {
        if (!e.refused_by_broker()) {
          for (std::size_t j = i; j < pending.size(); ++j) pending_declares_.push_back(pending[j]);
          throw;
        }
        if (auto passive = accept_existing(pending[i].declaration, e)) {
          pending_declares_.push_back({Declaration(std::move(*passive)), pending[i].promise});
        } else {
          pending[i].promise->set_exception(std::make_exception_ptr(
              ErrorException(Error{codes::kFailedPrecondition, e.what(), false})));
        }
        for (std::size_t j = i + 1; j < pending.size(); ++j) pending_declares_.push_back(pending[j]);
        throw;
      }
    }
    std::vector<std::shared_ptr<ConsumerState>> consumers;
    {
      std::lock_guard lock(consumers_mu_);
      for (auto& [id, c] : consumers_) consumers.push_back(c);
    }
    for (auto& c : consumers) start_consumer(*c);
    failed_connects_ = 0;
    last_received_ = last_heartbeat_check_ = Clock::now();
    ++stats_.connects;
    {
      std::lock_guard lock(connected_mu_);
      connected_ = true;
    }
    connected_cv_.notify_all();
    if (stats_.connects > 1) spdlog::info("reconnected to the broker at {}:{}", url_.host, url_.port);
    auto waiting = std::move(waiting_);
    waiting_.clear();
    for (auto& [id, p] : waiting) send(std::move(p));
  } catch (const std::exception& e) {
    bool refused = false;
    if (const auto* ae = dynamic_cast<const AmqpError*>(&e)) refused = ae->refused_by_broker();
    if (failed_connects_ == 0 || failed_connects_ % 10 == 0) {
      spdlog::warn("cannot connect to the broker at {}:{}: {}", url_.host, url_.port, e.what());
    }
    disconnect(e.what(), refused && channel_ != nullptr);
  }
}

void Engine::disconnect(const std::string& reason, bool immediate_reconnect) {
  bool was_connected = channel_ != nullptr && connected_;
  channel_.reset();
  {
    std::lock_guard lock(connected_mu_);
    connected_ = false;
  }
  if (was_connected) spdlog::warn("lost the broker connection: {}", reason);
  by_tag_.clear();
  {
    std::lock_guard lock(consumers_mu_);
    for (auto& [id, c] : consumers_) c->tag.clear();
  }
  reply_tag_.clear();
  mandatory_by_message_id_.clear();
  // Unconfirmed publishes are sent again on the next connection; RPC requests and internal
  // republishes are not (their reply address or delivery died with this connection).
  auto unconfirmed = std::move(unconfirmed_);
  unconfirmed_.clear();
  for (auto& [seq, p] : unconfirmed) {
    if (p.resend_on_reconnect) {
      p.returned = false;
      waiting_.emplace(p.id, std::move(p));
    } else {
      fail_publish(p, unavailable("connection to the broker lost before the confirm: " + reason));
    }
  }
  std::vector<std::uint64_t> lost;
  for (auto& [id, rpc] : rpcs_) {
    if (rpc.sent_generation == generation_) lost.push_back(id);
  }
  for (auto id : lost) complete_rpc(id, unavailable("connection to the broker lost: " + reason));

  if (immediate_reconnect) {
    next_connect_at_ = Clock::now();
    return;
  }
  auto base = std::min(options_.reconnect_max_backoff.count(),
                       options_.reconnect_min_backoff.count() << std::min(failed_connects_, 16));
  ++failed_connects_;
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  next_connect_at_ = Clock::now() + std::chrono::milliseconds(static_cast<long long>(
                                        static_cast<double>(base) * jitter(rng_)));
}

void Engine::fail_everything() {
  Error cancelled{codes::kCancelled, "connection is shut down", false};
  for (auto& [id, p] : waiting_) fail_publish(p, cancelled);
  waiting_.clear();
  for (auto& [seq, p] : unconfirmed_) fail_publish(p, cancelled);
  unconfirmed_.clear();
  std::vector<std::uint64_t> ids;
  for (auto& [id, r] : rpcs_) ids.push_back(id);
  for (auto id : ids) complete_rpc(id, cancelled);
  for (auto& d : pending_declares_) {
    d.promise->set_exception(std::make_exception_ptr(ErrorException(cancelled)));
  }
  pending_declares_.clear();
  std::vector<Op> ops;
  {
    std::lock_guard lock(mu_);
    ops.swap(ops_);
  }
  for (auto& op : ops) {
    if (auto* p = std::get_if<PendingPublish>(&op)) fail_publish(*p, cancelled);
  }
  channel_.reset();
  connected_ = false;
}

// ---------------------------------------------------------------------------------------------
// Topology

void Engine::apply(const Declaration& d) {
  std::visit(
      [this](const auto& spec) {
        using T = std::decay_t<decltype(spec)>;
        if constexpr (std::is_same_v<T, ExchangeSpec>) {
          channel_->declare_exchange(spec);
        } else if constexpr (std::is_same_v<T, QueueSpec>) {
          channel_->declare_queue(spec);
        } else {
          channel_->bind(spec);
        }
      },
      d);
}

void Engine::record(const Declaration& d) {
  auto same = [&d](const Declaration& other) {
    if (d.index() != other.index()) return false;
    if (const auto* e = std::get_if<ExchangeSpec>(&d)) return std::get<ExchangeSpec>(other).name == e->name;
    if (const auto* q = std::get_if<QueueSpec>(&d)) return std::get<QueueSpec>(other).name == q->name;
    const auto& b = std::get<BindingSpec>(d);
    const auto& o = std::get<BindingSpec>(other);
    return b.queue == o.queue && b.exchange == o.exchange && b.routing_key == o.routing_key;
  };
  auto it = std::find_if(topology_.begin(), topology_.end(), same);
  if (it != topology_.end()) {
    *it = d;
  } else {
    topology_.push_back(d);
  }
}

// ---------------------------------------------------------------------------------------------
// Publishing

void Engine::fail_publish(PendingPublish& p, const Error& e) {
  ++stats_.publish_failures;
  if (p.done) {
    auto done = std::move(p.done);
    p.done = nullptr;
    done(e);
  }
}

void Engine::send(PendingPublish p) {
  if (Clock::now() >= p.deadline) {
    fail_publish(p, Error{codes::kDeadlineExceeded, "broker did not accept the publish in time", true});
    return;
  }
  if (!channel_) {
    auto id = p.id;
    auto deadline = p.deadline;
    waiting_.emplace(id, std::move(p));
    schedule(deadline, [this, id] {
      auto it = waiting_.find(id);
      if (it == waiting_.end()) return;
      fail_publish(it->second, Error{codes::kDeadlineExceeded,
                                     "broker unreachable until the publish deadline", true});
      waiting_.erase(it);
    });
    return;
  }
  try {
    channel_->publish(p.exchange, p.routing_key, p.mandatory, p.properties, p.body);
  } catch (const AmqpError& e) {
    bool refused = e.refused_by_broker();
    if (refused) {
      fail_publish(p, Error{codes::kFailedPrecondition, e.what(), false});
    } else {
      waiting_.emplace(p.id, std::move(p));
    }
    disconnect(e.what(), refused);
    return;
  }
  ++stats_.published;
  if (!p.properties.correlation_id.empty() && p.properties.reply_to == kDirectReplyTo) {
    auto it = rpcs_.find(std::stoull(p.properties.correlation_id));
    if (it != rpcs_.end()) it->second.sent_generation = generation_;
    p.resend_on_reconnect = false;
  }
  if (!options_.publisher_confirms) {
    ++stats_.confirmed;
    if (p.done) p.done(ok_status());
    return;
  }
  std::uint64_t seq = ++publish_sequence_;
  p.sequence = seq;
  if (p.mandatory) mandatory_by_message_id_[p.properties.message_id] = seq;
  auto deadline = p.deadline;
  auto generation = generation_;
  unconfirmed_.emplace(seq, std::move(p));
  schedule(
      deadline,
      [this, seq, generation] {
        if (generation != generation_) return;
        auto it = unconfirmed_.find(seq);
        if (it == unconfirmed_.end()) return;
        fail_publish(it->second, Error{codes::kDeadlineExceeded,
                                       "broker did not confirm the publish in time", true});
        unconfirmed_.erase(it);
      },
      [this, seq, generation] {
        return generation == generation_ && unconfirmed_.count(seq) != 0;
      });
}

void Engine::on_confirm(const ConfirmEvent& ev) {
  auto complete = [this, &ev](PendingPublish& p) {
    if (p.mandatory) mandatory_by_message_id_.erase(p.properties.message_id);
    if (!ev.ack) {
      // A queue declared with `x-overflow: reject-publish` that is full refuses new messages.
      std::string why = p.exchange.empty()
                            ? "the " + p.routing_key + " queue is full; try again"
                            : "the broker refused the message for exchange '" + p.exchange +
                                  "' (a queue it routes to is full); try again";
      fail_publish(p, unavailable(why));
    } else if (p.returned) {
      fail_publish(p, unavailable("no queue is bound for exchange '" + p.exchange +
                                  "' with routing key '" + p.routing_key + "'"));
    } else {
      ++stats_.confirmed;
      if (p.done) p.done(ok_status());
    }
  };
  if (ev.multiple) {
    auto end = unconfirmed_.upper_bound(ev.delivery_tag);
    for (auto it = unconfirmed_.begin(); it != end; ++it) complete(it->second);
    unconfirmed_.erase(unconfirmed_.begin(), end);
  } else {
    auto it = unconfirmed_.find(ev.delivery_tag);
    if (it == unconfirmed_.end()) return;
    complete(it->second);
    unconfirmed_.erase(it);
  }
}

void Engine::on_return(const ReturnEvent& ev) {
  auto it = mandatory_by_message_id_.find(ev.properties.message_id);
  if (it == mandatory_by_message_id_.end()) return;
  auto p = unconfirmed_.find(it->second);
  if (p != unconfirmed_.end()) p->second.returned = true;
}

// ---------------------------------------------------------------------------------------------
// Consuming

void Engine::start_consumer(ConsumerState& c) {
  const std::string& q = c.options.queue.str();
  channel_->declare_exchange(ExchangeSpec{exchanges::kDeadLetter, ExchangeType::kDirect, true});
  if (c.options.keep_dead_letters) {
    QueueSpec dead;
    dead.name = dead_letter_queue_for(c.options.queue);
    dead.dead_letter_exchange.reset();
    channel_->declare_queue(dead);
    channel_->bind(BindingSpec{dead.name, exchanges::kDeadLetter, q});
  }
  channel_->qos(c.options.prefetch);
  c.tag = channel_->consume(q, false);
  std::shared_ptr<ConsumerState> shared;
  {
    std::lock_guard lock(consumers_mu_);
    auto it = consumers_.find(c.id);
    if (it != consumers_.end()) shared = it->second;
  }
  if (shared) by_tag_[c.tag] = shared;
}

void Engine::read_events() {
  try {
    for (int i = 0; i < 4096 && channel_; ++i) {
      auto ev = channel_->poll_event();
      if (!ev) break;
      std::visit(
          [this](auto& e) {
            using T = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<T, DeliverEvent>) {
              if (e.consumer_tag == reply_tag_) {
                on_reply(std::move(e));
              } else {
                on_deliver(std::move(e));
              }
            } else if constexpr (std::is_same_v<T, ConfirmEvent>) {
              on_confirm(e);
            } else if constexpr (std::is_same_v<T, ReturnEvent>) {
              on_return(e);
            } else {
              auto it = by_tag_.find(e.consumer_tag);
              if (it != by_tag_.end()) {
                spdlog::warn("the broker cancelled the consumer of '{}'",
                             it->second->options.queue.str());
                it->second->tag.clear();
                by_tag_.erase(it);
              }
            }
          },
          *ev);
    }
    if (channel_) channel_->release_buffers();
  } catch (const AmqpError& e) {
    disconnect(e.what(), e.refused_by_broker());
  }
}

void Engine::on_reply(DeliverEvent ev) {
  std::uint64_t id = 0;
  try {
    id = std::stoull(ev.properties.correlation_id);
  } catch (const std::exception&) {
    return;  // not one of ours
  }
  if (rpcs_.find(id) == rpcs_.end()) return;  // timed out already
  try {
    Envelope reply = Envelope::parse(ev.body);
    if (reply.error) {
      Error e = *reply.error;
      complete_rpc(id, std::move(e));
    } else {
      complete_rpc(id, std::move(reply));
    }
  } catch (const std::exception& e) {
    complete_rpc(id, Error{codes::kInternal, std::string("malformed reply: ") + e.what(), false});
  }
}

std::optional<QueueSpec> Engine::accept_existing(const Declaration& d, const AmqpError& e) {
  const auto* spec = std::get_if<QueueSpec>(&d);
  constexpr int kPreconditionFailed = 406;
  if (spec == nullptr || !spec->accept_existing_arguments || spec->passive ||
      e.reply_code() != kPreconditionFailed) {
    return std::nullopt;
  }
  std::string limits;
  if (spec->max_length) limits += " x-max-length=" + std::to_string(*spec->max_length);
  if (spec->reject_publish_when_full) limits += " x-overflow=reject-publish";
  if (spec->dead_letter_exchange) {
    limits += " x-dead-letter-exchange=" + spec->dead_letter_exchange->str();
  } else {
    limits += " (no dead-letter exchange)";
  }
  spdlog::warn(
      "queue '{}' already exists with other arguments than this version declares ({}); using it "
      "as it is, so these arguments are NOT in force:{}. To apply them, stop every consumer of "
      "the queue, delete it (rabbitmqctl delete_queue {}; the messages in it are lost) and "
      "start again, or start the broker with an empty data directory",
      spec->name.str(), e.what(), limits, spec->name.str());
  QueueSpec passive = *spec;
  passive.passive = true;
  return passive;
}

void Engine::complete_rpc(std::uint64_t id, Result<Envelope> result) {
  auto it = rpcs_.find(id);
  if (it == rpcs_.end()) return;
  auto done = std::move(it->second.done);
  rpcs_.erase(it);
  if (done) done(std::move(result));
}

void Engine::on_deliver(DeliverEvent ev) {
  ++stats_.delivered;
  auto it = by_tag_.find(ev.consumer_tag);
  if (it == by_tag_.end()) {
    channel_->reject(ev.delivery_tag, true);  // consumer gone: give it back to the queue
    return;
  }
  std::shared_ptr<ConsumerState> c = it->second;
  Job job;
  job.generation = generation_;
  job.attempt = static_cast<int>(ev.properties.int_header(kAttemptHeader).value_or(1));
  if (!ev.properties.expiration.empty()) {
    try {
      job.expires_at =
          Clock::now() + std::chrono::milliseconds(std::stoll(ev.properties.expiration));
    } catch (const std::exception&) {
      // Not a number: the broker would have refused it; ignore.
    }
  }
  bool redelivered = ev.redelivered;
  job.delivery = std::move(ev);
  const std::string& queue = c->options.queue.str();
  if (redelivered) {
    // The last consumer died or lost its connection holding this message: that counts as an
    // attempt. Record the count on the message itself, so that a message that crashes its
    // consumer every time cannot circle forever.
    int next = job.attempt + 1;
    bool dead = next > c->options.max_attempts;
    std::string reason = "redelivered after " + std::to_string(job.attempt) +
                         " attempt(s) without acknowledgement (consumer died or disconnected)";
    republish(std::move(job), queue, next, reason, dead);
    return;
  }
  try {
    job.envelope = Envelope::parse(job.delivery.body);
  } catch (const std::exception& e) {
    republish(std::move(job), queue, 1, std::string("malformed message: ") + e.what(), true);
    return;
  }
  if (c->pool) {
    auto self = this;
    c->pool->post([self, c, job = std::move(job)]() mutable { self->handle_job(*c, std::move(job)); });
  } else {
    handle_job(*c, std::move(job));
  }
}

void Engine::handle_job(ConsumerState& c, Job job) {
  DeliveryInfo info;
  info.queue = c.options.queue;
  info.exchange = job.delivery.exchange;
  info.routing_key = job.delivery.routing_key;
  info.reply_to = job.delivery.properties.reply_to;
  info.rpc_correlation_id = job.delivery.properties.correlation_id;
  info.attempt = job.attempt;
  info.redelivered = job.delivery.redelivered;
  std::string failure;
  bool poison = false;
  try {
    if (job.expires_at && Clock::now() >= *job.expires_at) {
      // Its sender stopped waiting while it queued here behind other work: nobody wants the
      // result. Acknowledged without running the handler.
      spdlog::debug("message {} of type {} on '{}' expired before a handler was free; dropped",
                    job.envelope.message_id, job.envelope.type, c.options.queue.str());
    } else {
      c.handler(job.envelope, info);
    }
  } catch (const PoisonMessage& e) {
    failure = e.what();
    poison = true;
  } catch (const std::exception& e) {
    failure = e.what();
    if (failure.empty()) failure = "handler failed";
  } catch (...) {
    failure = "handler threw a non-standard exception";
  }
  std::shared_ptr<ConsumerState> shared;
  {
    std::lock_guard lock(consumers_mu_);
    auto it = consumers_.find(c.id);
    if (it != consumers_.end()) shared = it->second;
  }
  // Completion goes through the I/O queue, behind anything the handler published (its reply),
  // so a request is acknowledged only after its reply has been handed to the broker.
  post(std::function<void()>(
      [this, shared, job = std::move(job), failure = std::move(failure), poison,
       queue = c.options.queue.str(), max = c.options.max_attempts]() mutable {
        if (failure.empty()) {
          ack(job.generation, job.delivery.delivery_tag);
          return;
        }
        if (poison) {
          republish(std::move(job), queue, job.attempt, "rejected by the handler: " + failure, true);
          return;
        }
        if (job.attempt >= max) {
          auto reason = "failed " + std::to_string(job.attempt) + " attempt(s); last error: " + failure;
          auto attempt = job.attempt;
          republish(std::move(job), queue, attempt, reason, true);
          return;
        }
        spdlog::warn("message {} on '{}' failed attempt {} ({}); retrying",
                     job.envelope.message_id, queue, job.attempt, failure);
        auto at = Clock::now() + retry_backoff(job.attempt);
        auto shared_job = std::make_shared<Job>(std::move(job));
        schedule(at, [this, shared_job, queue, failure] {
          int next = shared_job->attempt + 1;
          republish(std::move(*shared_job), queue, next, failure, false);
        });
      }));
}

void Engine::republish(Job job, const std::string& queue, int attempt, const std::string& reason,
                       bool dead_letter) {
  if (job.generation != generation_ || !channel_) return;  // the broker redelivers it anyway
  PendingPublish p;
  p.id = next_id_++;
  p.exchange = dead_letter ? exchanges::kDeadLetter.str() : std::string();
  p.routing_key = queue;
  p.properties = job.delivery.properties;
  p.properties.int_headers.erase(
      std::remove_if(p.properties.int_headers.begin(), p.properties.int_headers.end(),
                     [](const auto& h) { return h.first == kAttemptHeader; }),
      p.properties.int_headers.end());
  p.properties.int_headers.emplace_back(kAttemptHeader, attempt);
  if (dead_letter) {
    p.properties.expiration.clear();  // a dead letter waits for an operator
    p.properties.string_headers.emplace_back(kReasonHeader, reason);
    p.properties.string_headers.emplace_back(kQueueHeader, queue);
    ++stats_.dead_lettered;
    spdlog::error("dead-lettered message {} from queue '{}' after {} attempt(s): {}",
                  job.delivery.properties.message_id.empty() ? std::string("(no id)")
                                                             : job.delivery.properties.message_id,
                  queue, attempt, reason);
  }
  p.body = std::move(job.delivery.body);
  p.deadline = Clock::now() + std::chrono::seconds(30);
  p.resend_on_reconnect = false;
  auto generation = job.generation;
  auto tag = job.delivery.delivery_tag;
  p.done = [this, generation, tag, dead_letter](Status s) {
    if (s.ok()) {
      ack(generation, tag);
    } else if (generation == generation_ && channel_) {
      // Could not move it: let the broker keep it (dead letters fall back to the queue's DLX).
      try {
        channel_->reject(tag, !dead_letter);
      } catch (const AmqpError& e) {
        disconnect(e.what(), false);
      }
    }
  };
  send(std::move(p));
}

void Engine::ack(std::uint64_t generation, std::uint64_t delivery_tag) {
  if (generation != generation_ || !channel_) return;  // the delivery died with its connection
  try {
    channel_->ack(delivery_tag);
  } catch (const AmqpError& e) {
    disconnect(e.what(), false);
  }
}

// ---------------------------------------------------------------------------------------------
// Timers

void Engine::schedule(Clock::time_point at, std::function<void()> fire,
                      std::function<bool()> live) {
  timers_.push(Timer{at, timer_order_++, std::move(fire), std::move(live)});
}

void Engine::drop_dead_timers() {
  while (!timers_.empty() && timers_.top().live && !timers_.top().live()) timers_.pop();
}

void Engine::run_timers() {
  auto now = Clock::now();
  while (!timers_.empty() && timers_.top().at <= now) {
    auto fire = std::move(const_cast<Timer&>(timers_.top()).fire);
    timers_.pop();
    fire();
  }
  drop_dead_timers();
}

}  // namespace wonderland::messaging::detail
