#include "wonderland/messaging/connection.hpp"

#include <algorithm>
#include <stdexcept>

#include "detail/broker_session.hpp"
#include "wonderland/common/env.hpp"

namespace wonderland::messaging {

QueueType parse_queue_type(const std::string& value, const std::string& setting) {
  if (value == "classic")
    return QueueType::kClassic;
  if (value == "quorum")
    return QueueType::kQuorum;
  throw std::invalid_argument(setting + "='" + value + "' is not a queue type: classic or quorum");
}

std::vector<std::string> split_amqp_urls(const std::string& urls) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= urls.size()) {
    std::size_t comma = std::min(urls.find(',', start), urls.size());
    std::string url = urls.substr(start, comma - start);
    auto first = url.find_first_not_of(" \t");
    auto last = url.find_last_not_of(" \t");
    url = first == std::string::npos ? "" : url.substr(first, last - first + 1);
    if (url.empty()) {
      throw std::invalid_argument("the broker URL list '" + urls + "' has an empty entry");
    }
    detail::parse_amqp_url(url);  // throws, naming the URL
    out.push_back(std::move(url));
    start = comma + 1;
  }
  return out;
}

ConnectionOptions ConnectionOptions::from_env(std::string service) {
  ConnectionOptions o;
  o.url = env::get("WONDERLAND_AMQP_URL", o.url);
  try {
    split_amqp_urls(o.url);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("WONDERLAND_AMQP_URL: ") + e.what());
  }
  o.queue_type = parse_queue_type(env::get("WONDERLAND_AMQP_QUEUE_TYPE", "classic"));
  o.heartbeat =
      std::chrono::seconds(env::get_int("WONDERLAND_AMQP_HEARTBEAT_S", o.heartbeat.count()));
  o.tls.ca_cert_file = env::get("WONDERLAND_AMQP_CACERT", "");
  o.tls.cert_file = env::get("WONDERLAND_AMQP_CERT", "");
  o.tls.key_file = env::get("WONDERLAND_AMQP_KEY", "");
  o.tls.verify = env::get_bool("WONDERLAND_AMQP_TLS_VERIFY", true);
  if (o.tls.cert_file.empty() != o.tls.key_file.empty()) {
    throw std::invalid_argument(
        "WONDERLAND_AMQP_CERT and WONDERLAND_AMQP_KEY go together: set both or neither");
  }
  o.service = std::move(service);
  return o;
}

Connection::Connection(ConnectionOptions options)
    : session_(std::make_shared<detail::BrokerSession>(std::move(options))) {
  session_->start();
}

Connection::~Connection() {
  session_->shutdown();
}

const ConnectionOptions& Connection::options() const {
  return session_->options();
}

void Connection::declare(const ExchangeSpec& spec, std::chrono::milliseconds timeout) {
  session_->declare(spec, timeout);
}
void Connection::declare(const QueueSpec& spec, std::chrono::milliseconds timeout) {
  session_->declare(spec, timeout);
}
void Connection::declare(const BindingSpec& spec, std::chrono::milliseconds timeout) {
  session_->declare(spec, timeout);
}
void Connection::delete_queue(const QueueName& queue, std::chrono::milliseconds timeout) {
  session_->delete_queue(queue, timeout);
}

void Connection::delete_exchange(const ExchangeName& exchange, std::chrono::milliseconds timeout) {
  session_->delete_exchange(exchange, timeout);
}

void Connection::publish(Outgoing message, PublishCallback done) {
  session_->publish(std::move(message), std::move(done));
}

std::future<Status> Connection::publish(Outgoing message) {
  auto promise = std::make_shared<std::promise<Status>>();
  auto future = promise->get_future();
  session_->publish(std::move(message), [promise](Status s) { promise->set_value(std::move(s)); });
  return future;
}

ConsumerHandle Connection::consume(ConsumerOptions options, Handler handler) {
  auto id = session_->add_consumer(std::move(options), std::move(handler));
  return ConsumerHandle(session_, id);
}

std::optional<RawMessage> Connection::get(const QueueName& queue,
                                          std::chrono::milliseconds timeout) {
  return session_->get(queue, timeout);
}

Result<QueueStatus> Connection::queue_status(const QueueName& queue,
                                             std::chrono::milliseconds timeout) {
  return session_->queue_status(queue, timeout);
}

std::uint64_t Connection::message_count(const QueueName& queue, std::chrono::milliseconds timeout) {
  return queue_status(queue, timeout).value().messages;
}

bool Connection::connected() const {
  return session_->connected();
}
std::string Connection::broker_address() const {
  return session_->broker_address();
}
bool Connection::wait_connected(std::chrono::milliseconds timeout) const {
  return session_->wait_connected(timeout);
}
ConnectionStats Connection::stats() const {
  return session_->stats();
}
detail::BrokerSession& Connection::session() {
  return *session_;
}

}  // namespace wonderland::messaging
