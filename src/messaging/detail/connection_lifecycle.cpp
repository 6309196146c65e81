// ConnectionLifecycle: connecting, heartbeats and reconnecting with back-off.
#include "detail/connection_lifecycle.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "detail/tcp_counters.hpp"

namespace wonderland::messaging::detail {

ConnectionLifecycle::ConnectionLifecycle(const ConnectionOptions& options,
                                         SessionCounters& counters)
    : options_(options), counters_(counters) {
  for (const auto& url : split_amqp_urls(options.url))
    urls_.push_back(parse_amqp_url(url));
}

void ConnectionLifecycle::next_url() {
  current_ = (current_ + 1) % urls_.size();
}

void ConnectionLifecycle::look_at_socket(Clock::time_point now) {
  std::optional<tcp_info> counters = tcp_counters(channel_->fd());
  if (counters && counters->tcpi_bytes_received != bytes_received_) {
    bytes_received_ = counters->tcpi_bytes_received;
    last_received_ = now;
  }
}

bool ConnectionLifecycle::wait_connected(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(connected_mu_);
  return connected_cv_.wait_for(lock, timeout, [this] { return connected_.load(); });
}

std::string ConnectionLifecycle::address() const {
  std::lock_guard lock(connected_mu_);
  return address_;
}

void ConnectionLifecycle::set_connected(bool connected) {
  {
    std::lock_guard lock(connected_mu_);
    connected_ = connected;
    address_ = connected ? url().host + ":" + std::to_string(url().port) : std::string();
  }
  if (connected)
    connected_cv_.notify_all();
}

AmqpChannel& ConnectionLifecycle::open() {
  auto channel = std::make_unique<AmqpChannel>(url(), options_.tls, options_.service,
                                               static_cast<int>(options_.heartbeat.count()),
                                               options_.connect_timeout, options_.queue_type);
  if (options_.publisher_confirms)
    channel->confirm_select();
  channel_ = std::move(channel);
  ++generation_;
  return *channel_;
}

void ConnectionLifecycle::established() {
  // The back-off starts afresh only once this connection has lasted (see close()): a node that
  // accepts connections and drops each at once is not tried again every reconnect_min_backoff.
  established_at_ = last_received_ = last_heartbeat_sent_ = Clock::now();
  bytes_received_ = 0;  // a new socket: its count starts from what the handshake brought
  look_at_socket(established_at_);
  ++counters_.connects;
  set_connected(true);
  if (urls_.size() > 1) {
    spdlog::info("{} the broker at {}:{} (node {} of {})",
                 counters_.connects > 1 ? "reconnected to" : "connected to", url().host, url().port,
                 current_ + 1, urls_.size());
  } else if (counters_.connects > 1) {
    spdlog::info("reconnected to the broker at {}:{}", url().host, url().port);
  }
}

void ConnectionLifecycle::connect_failed(const std::exception& e) {
  if (failures_since_loss_ % 10 == 0) {
    spdlog::warn("cannot connect to the broker at {}:{}: {}", url().host, url().port, e.what());
  }
  ++failures_since_loss_;
  // The next attempt goes to the next node, so that a dead one is not tried first again.
  next_url();
}

void ConnectionLifecycle::close(const std::string& reason) {
  bool was_connected = channel_ != nullptr && connected_;
  channel_.reset();
  set_connected(false);
  if (was_connected) {
    if (Clock::now() - established_at_ >= kStableAfter)
      failed_connects_ = 0;
    failures_since_loss_ = 0;
    spdlog::warn("lost the broker connection to {}:{}: {}", url().host, url().port, reason);
    next_url();
  }
}

void ConnectionLifecycle::schedule_reconnect(bool immediate) {
  if (immediate) {
    next_connect_at_ = Clock::now();
    return;
  }
  auto base = std::min(options_.reconnect_max_backoff.count(),
                       options_.reconnect_min_backoff.count() << std::min(failed_connects_, 16));
  ++failed_connects_;
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  next_connect_at_ =
      Clock::now() +
      std::chrono::milliseconds(static_cast<long long>(static_cast<double>(base) * jitter(rng_)));
}

void ConnectionLifecycle::shut_down() {
  channel_.reset();
  connected_ = false;
}

bool ConnectionLifecycle::read_due(bool readable, Clock::time_point now) {
  if (readable)
    last_received_ = now;
  return readable || channel_->has_buffered();
}

bool ConnectionLifecycle::heartbeat_due(Clock::time_point now) {
  if (!channel_ || channel_->heartbeat_s() <= 0 || now - last_heartbeat_sent_ < heartbeat() / 2)
    return false;
  last_heartbeat_sent_ = now;
  // Every half interval: a silence is then measured to within half an interval.
  look_at_socket(now);
  return true;
}

bool ConnectionLifecycle::heartbeats_missed(Clock::time_point now) {
  if (!channel_)
    return false;
  auto hb = heartbeat();
  const auto silent_after = 2 * hb + std::chrono::seconds(1);
  if (hb.count() <= 0 || now - last_received_ <= silent_after)
    return false;
  look_at_socket(now);  // the bytes rabbitmq-c read inside a call count too
  return now - last_received_ > silent_after;
}

Clock::time_point ConnectionLifecycle::next_wakeup(Clock::time_point limit) const {
  if (!channel_)
    return std::min(limit, next_connect_at_);
  if (channel_->heartbeat_s() > 0)
    limit = std::min(limit, last_heartbeat_sent_ + heartbeat() / 2);
  return limit;
}

}  // namespace wonderland::messaging::detail
