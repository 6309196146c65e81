// BrokerSession: the I/O thread and its loop, the hand-over of work from other threads, and the
// blocking calls of Connection (declarations, deletions, basic.get, message counts).
#include "detail/broker_session.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <future>

namespace wonderland::messaging::detail {
namespace {

Error unavailable(const std::string& what) {
  return Error::of(codes::kUnavailable, what);
}

ErrorException timed_out(const std::string& what) {
  return ErrorException(Error::of(codes::kDeadlineExceeded, what));
}

RawMessage raw_message(DeliverEvent ev) {
  RawMessage m;
  m.body = std::move(ev.body);
  m.routing_key = std::move(ev.routing_key);
  m.message_id = std::move(ev.properties.message_id);
  for (auto& [k, v] : ev.properties.string_headers)
    m.string_headers[k] = v;
  for (auto& [k, v] : ev.properties.int_headers)
    m.int_headers[k] = v;
  return m;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Lifecycle of the I/O thread

BrokerSession::BrokerSession(ConnectionOptions options)
    : options_(std::move(options)),
      lifecycle_(options_, counters_),
      publisher_(*this),
      rpcs_(*this),
      consumers_(*this),
      topology_(*this) {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0)
    throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
}

BrokerSession::~BrokerSession() {
  shutdown();
  if (wake_fd_ >= 0)
    ::close(wake_fd_);
}

void BrokerSession::start() {
  io_thread_ = std::thread([this] {
    io_thread_id_.store(std::this_thread::get_id());
    run();
  });
}

void BrokerSession::shutdown() {
  {
    std::lock_guard lock(mu_);
    if (stopped_)
      return;
    stopped_ = true;
  }
  stop_ = true;
  wake();
  if (io_thread_.joinable())
    io_thread_.join();
  consumers_.stop_all();
}

void BrokerSession::wake() {
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

void BrokerSession::post(Op op) {
  post(std::span<Op>(&op, 1));
}

void BrokerSession::post(std::span<Op> ops) {
  bool wake_up = false;
  std::vector<PublishCallback> refused;
  {
    std::lock_guard lock(mu_);
    if (stopped_) {
      for (Op& op : ops) {
        if (auto* p = std::get_if<PendingPublish>(&op); p != nullptr && p->done)
          refused.push_back(std::move(p->done));
      }
    } else {
      for (Op& op : ops)
        ops_.push_back(std::move(op));
      if (!wake_pending_) {
        wake_pending_ = true;
        wake_up = std::this_thread::get_id() != io_thread_id_.load();
      }
    }
  }
  // Outside the lock: a refused publish's callback may post again (a caller's next call, say),
  // which is refused in turn.
  for (PublishCallback& done : refused)
    done(Error::of(codes::kCancelled, "connection is shut down"));
  if (wake_up)
    wake();
}

void BrokerSession::refuse_blocking_on_io_thread(const char* what) const {
  if (std::this_thread::get_id() == io_thread_id_.load()) {
    throw ErrorException(Error::of(codes::kFailedPrecondition,
                                   std::string(what) +
                                       " cannot wait on the connection's I/O thread, which would "
                                       "answer it: call it from another thread"));
  }
}

bool BrokerSession::wait_connected(std::chrono::milliseconds timeout) const {
  return lifecycle_.wait_connected(timeout);
}

// ---------------------------------------------------------------------------------------------
// Operations for Connection (any thread)

void BrokerSession::publish(Outgoing m, PublishCallback done) {
  post(publisher_.prepare(std::move(m), std::move(done)));
}

void BrokerSession::rpc_call(RpcRequest request, RpcCallback done) {
  rpcs_.call(std::move(request), std::move(done));
}

std::uint64_t BrokerSession::add_consumer(ConsumerOptions options, Handler handler) {
  return consumers_.add(std::move(options), std::move(handler));
}

void BrokerSession::remove_consumer(std::uint64_t id) {
  consumers_.remove(id);
}

void BrokerSession::declare(Declaration d, std::chrono::milliseconds timeout) {
  refuse_blocking_on_io_thread("a declaration");
  auto promise = std::make_shared<std::promise<void>>();
  auto future = promise->get_future();
  post(std::function<void()>(
      [this, d = std::move(d), promise]() mutable { topology_.declare(std::move(d), promise); }));
  if (future.wait_for(timeout) != std::future_status::ready) {
    throw timed_out("declaration not confirmed by the broker within " +
                    std::to_string(timeout.count()) + " ms");
  }
  future.get();
}

void BrokerSession::on_channel_and_wait(const char* what, std::chrono::milliseconds timeout,
                                        std::function<void(AmqpChannel&)> op) {
  refuse_blocking_on_io_thread(what);
  auto promise = std::make_shared<std::promise<void>>();
  auto future = promise->get_future();
  post(std::function<void()>([this, op = std::move(op), promise] {
    AmqpChannel* channel = this->channel();
    if (channel == nullptr) {
      promise->set_exception(
          std::make_exception_ptr(ErrorException(unavailable("not connected to the broker"))));
      return;
    }
    try {
      op(*channel);
      promise->set_value();
    } catch (const AmqpError& e) {
      promise->set_exception(std::make_exception_ptr(ErrorException(unavailable(e.what()))));
      disconnect(e.what(), e.refused_by_broker());
    }
  }));
  if (future.wait_for(timeout) != std::future_status::ready) {
    throw timed_out(std::string(what) + " timed out");
  }
  future.get();
}

void BrokerSession::delete_queue(const QueueName& queue, std::chrono::milliseconds timeout) {
  on_channel_and_wait("queue.delete", timeout, [this, queue](AmqpChannel& channel) {
    // Its consumers here stop: the cancel the broker sends for them must not start them again.
    consumers_.forget_queue(queue);
    channel.delete_queue(queue);
  });
}

void BrokerSession::delete_exchange(const ExchangeName& exchange,
                                    std::chrono::milliseconds timeout) {
  on_channel_and_wait("exchange.delete", timeout,
                      [exchange](AmqpChannel& channel) { channel.delete_exchange(exchange); });
}

Result<QueueStatus> BrokerSession::queue_status(const QueueName& queue,
                                                std::chrono::milliseconds timeout) {
  // Written on the I/O thread before the wait ends (the promise orders it); kept alive past a
  // timeout by the operation that may still write it.
  auto status = std::make_shared<std::optional<Result<QueueStatus>>>();
  try {
    on_channel_and_wait("queue.declare (passive)", timeout, [status, queue](AmqpChannel& channel) {
      status->emplace(channel.queue_status(queue));
    });
  } catch (const ErrorException& e) {
    return e.error();
  }
  return std::move(**status);
}

std::optional<RawMessage> BrokerSession::get(const QueueName& queue,
                                             std::chrono::milliseconds timeout) {
  refuse_blocking_on_io_thread("basic.get");
  auto promise = std::make_shared<std::promise<std::optional<RawMessage>>>();
  auto future = promise->get_future();
  post(std::function<void()>([this, queue, promise] {
    auto fail = [&promise](Error e) {
      promise->set_exception(std::make_exception_ptr(ErrorException(std::move(e))));
    };
    AmqpChannel* channel = this->channel();
    if (channel == nullptr)
      return fail(unavailable("not connected to the broker"));
    if (consumers_.consuming()) {
      return fail(Error::of(codes::kFailedPrecondition, "get on a connection that has consumers"));
    }
    try {
      auto ev = channel->get(queue.str());
      promise->set_value(ev ? std::optional<RawMessage>(raw_message(std::move(*ev)))
                            : std::nullopt);
    } catch (const AmqpError& e) {
      fail(unavailable(e.what()));
      disconnect(e.what(), e.refused_by_broker());
    }
  }));
  if (future.wait_for(timeout) != std::future_status::ready)
    throw timed_out("basic.get timed out");
  return future.get();
}

// ---------------------------------------------------------------------------------------------
// The I/O loop

void BrokerSession::run() {
  while (!stop_) {
    if (lifecycle_.connect_due())
      connect();
    pollfd fds[2];
    fds[0] = {wake_fd_, POLLIN, 0};
    fds[1] = {channel() != nullptr ? channel()->fd() : -1, POLLIN, 0};
    int n = ::poll(fds, 2, poll_timeout_ms());
    if (n < 0 && errno != EINTR) {
      spdlog::critical("poll failed: {}", std::strerror(errno));
      break;
    }
    if (fds[0].revents & POLLIN) {
      std::uint64_t v;
      [[maybe_unused]] auto r = ::read(wake_fd_, &v, sizeof v);
    }
    auto busy_from = Clock::now();
    run_ops();
    warn_if_busy("operations handed over by other threads", busy_from);
    if (channel() != nullptr) {
      busy_from = Clock::now();
      service_channel((fds[1].revents & (POLLIN | POLLERR | POLLHUP)) != 0);
      warn_if_busy("the broker's frames and the handlers that run on this thread", busy_from);
    }
    busy_from = Clock::now();
    timers_.run_due();
    warn_if_busy("timers", busy_from);
  }
  fail_everything();
}

void BrokerSession::warn_if_busy(const char* what, Clock::time_point since) {
  // While this thread is busy nothing is read or written on the connection: no heartbeat, no
  // reply, no publish. A stall this long is a bug in whatever ran here (or a broker that stopped
  // reading from this connection, when a write blocked).
  auto busy = Clock::now() - since;
  if (busy < std::chrono::seconds(1))
    return;
  spdlog::warn("the broker connection's thread was busy for {} ms with {}",
               std::chrono::duration_cast<std::chrono::milliseconds>(busy).count(), what);
}

int BrokerSession::poll_timeout_ms() {
  {
    std::lock_guard lock(mu_);
    if (!ops_.empty())
      return 0;
  }
  if (channel() != nullptr && channel()->has_buffered())
    return 0;
  auto now = Clock::now();
  auto limit = lifecycle_.next_wakeup(now + std::chrono::milliseconds(1000));
  if (auto timer = timers_.next_due())
    limit = std::min(limit, *timer);
  if (limit <= now)
    return 0;
  return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(limit - now).count());
}

void BrokerSession::run_ops() {
  std::vector<Op> ops;
  {
    std::lock_guard lock(mu_);
    ops.swap(ops_);
    wake_pending_ = false;
  }
  // Several writes at once (publishes, acknowledgements): cork the channel so that they leave
  // together, in one send() over plain TCP (AmqpChannel holds the frames), in full segments over
  // TLS (TCP_CORK). Uncorking at the end sends what is left. One write alone goes out as it is:
  // over TLS, corking it would only cost two system calls. Bookkeeping (LocalOp) writes nothing.
  const auto writes = std::count_if(
      ops.begin(), ops.end(), [](const Op& op) { return !std::holds_alternative<LocalOp>(op); });
  AmqpChannel* corked = writes > 1 ? channel() : nullptr;
  if (corked != nullptr)
    corked->cork(true);
  for (auto& op : ops) {
    if (auto* f = std::get_if<std::function<void()>>(&op)) {
      (*f)();
    } else if (auto* local = std::get_if<LocalOp>(&op)) {
      local->fn();
    } else {
      publisher_.send(std::move(std::get<PendingPublish>(op)));
    }
  }
  if (corked != nullptr && channel() == corked)
    uncork();
}

void BrokerSession::uncork() {
  try {
    channel()->cork(false);
  } catch (const AmqpError& e) {
    disconnect(e.what(), false);
  }
}

void BrokerSession::service_channel(bool readable) {
  auto now = Clock::now();
  if (lifecycle_.read_due(readable, now))
    read_events();
  if (lifecycle_.heartbeat_due(now)) {
    try {
      channel()->send_heartbeat();
    } catch (const AmqpError& e) {
      disconnect(e.what(), false);
    }
  }
  if (lifecycle_.heartbeats_missed(now))
    disconnect("missed heartbeats from the broker", false);
}

void BrokerSession::read_events() {
  // What the handlers on this thread send (acknowledgements, replies) leaves together after the
  // frames read, when holding it back costs nothing (AmqpChannel::holds_frames).
  AmqpChannel* corked = channel()->holds_frames() ? channel() : nullptr;
  if (corked != nullptr)
    corked->cork(true);
  try {
    for (int i = 0; i < 4096 && channel() != nullptr; ++i) {
      // Once what the last read brought is used up, the socket is left to the next poll():
      // reading it again here would mostly find nothing, at the cost of a failed recv and a
      // zero-timeout poll inside rabbitmq-c on every wake-up.
      if (i > 0 && !channel()->has_buffered())
        break;
      auto ev = channel()->poll_event();
      if (!ev)
        break;
      dispatch(*ev);
    }
    if (channel() != nullptr)
      channel()->release_buffers();
  } catch (const AmqpError& e) {
    disconnect(e.what(), e.refused_by_broker());
  }
  if (corked != nullptr && channel() == corked)
    uncork();
}

void BrokerSession::dispatch(Event& ev) {
  std::visit(
      [this](auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, DeliverEvent>) {
          if (rpcs_.is_reply(e)) {
            rpcs_.on_reply(e);
          } else {
            consumers_.on_deliver(std::move(e));
          }
        } else if constexpr (std::is_same_v<T, ConfirmEvent>) {
          publisher_.on_confirm(e);
        } else if constexpr (std::is_same_v<T, ReturnEvent>) {
          publisher_.on_return(e);
        } else {
          consumers_.on_cancelled(e);
        }
      },
      ev);
}

// ---------------------------------------------------------------------------------------------
// Connecting and losing the connection

void BrokerSession::connect() {
  try {
    restore(lifecycle_.open());
    lifecycle_.established();
    publisher_.on_connected();
  } catch (const std::exception& e) {
    bool refused = false;
    if (const auto* ae = dynamic_cast<const AmqpError*>(&e))
      refused = ae->refused_by_broker();
    lifecycle_.connect_failed(e);
    disconnect(e.what(), refused && channel() != nullptr);
  }
}

void BrokerSession::restore(AmqpChannel& channel) {
  publisher_.on_new_channel();
  rpcs_.on_connected(channel);
  topology_.on_connected(channel);
  consumers_.on_connected(channel);
}

void BrokerSession::disconnect(const std::string& reason, bool immediate_reconnect) {
  lifecycle_.close(reason);
  consumers_.on_disconnect();
  publisher_.on_disconnect(reason);
  rpcs_.on_disconnect(reason);
  lifecycle_.schedule_reconnect(immediate_reconnect);
}

void BrokerSession::fail_everything() {
  Error cancelled = Error::of(codes::kCancelled, "connection is shut down");
  publisher_.fail_all(cancelled);
  rpcs_.fail_all(cancelled);
  topology_.fail_pending(cancelled);
  std::vector<Op> ops;
  {
    std::lock_guard lock(mu_);
    ops.swap(ops_);
  }
  for (auto& op : ops) {
    if (auto* p = std::get_if<PendingPublish>(&op))
      publisher_.fail(*p, cancelled);
  }
  lifecycle_.shut_down();
}

}  // namespace wonderland::messaging::detail
