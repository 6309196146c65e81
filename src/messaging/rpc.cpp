#include "wonderland/messaging/rpc.hpp"

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "detail/broker_session.hpp"
#include "wonderland/common/env.hpp"

namespace wonderland::messaging {

RpcClient::RpcClient(Connection& connection) : connection_(connection) {}

void RpcClient::call(RpcRequest request, RpcCallback done) {
  if (request.envelope.source.empty())
    request.envelope.source = connection_.options().service;
  connection_.session().rpc_call(std::move(request), std::move(done));
}

std::future<Result<Envelope>> RpcClient::call(RpcRequest request) {
  auto promise = std::make_shared<std::promise<Result<Envelope>>>();
  auto future = promise->get_future();
  call(std::move(request), [promise](Result<Envelope> r) { promise->set_value(std::move(r)); });
  return future;
}

std::int64_t RpcServerOptions::max_length_from_env() {
  std::int64_t n = env::get_int("WONDERLAND_COMMAND_QUEUE_MAX_LENGTH", 10000);
  if (n < 0)
    throw std::invalid_argument("WONDERLAND_COMMAND_QUEUE_MAX_LENGTH must be 0 or more");
  return n;
}

RpcServer::RpcServer(Connection& connection, RpcServerOptions options, RpcHandler handler) {
  QueueSpec queue;
  queue.name = options.queue;
  // Expired requests are dropped, not dead-lettered (the consumer dead-letters malformed ones).
  queue.dead_letter_exchange.reset();
  std::int64_t max_length =
      options.max_length ? *options.max_length : RpcServerOptions::max_length_from_env();
  if (max_length > 0) {
    queue.max_length = max_length;
    queue.reject_publish_when_full = true;
  }
  queue.accept_existing_arguments = true;
  if (options.temporary) {
    queue.durable = false;
    queue.auto_delete = true;
  }
  connection.declare(queue);
  ConsumerOptions consumer;
  consumer.queue = options.queue;
  consumer.keep_dead_letters = !options.temporary || options.dead_letters_in.has_value();
  consumer.dead_letters_in = options.dead_letters_in;
  consumer.prefetch = options.prefetch;
  consumer.concurrency = options.concurrency;
  consumer.on_io_thread = options.on_io_thread;
  Connection* conn = &connection;
  consumer_ = connection.consume(consumer, [conn, handler = std::move(handler)](
                                               const Envelope& request, const DeliveryInfo& info) {
    Envelope reply = Envelope::caused_by(request, request.type + ".reply", nlohmann::json::object(),
                                         conn->options().service);
    try {
      Result<nlohmann::json> r = handler(request);
      if (r.ok()) {
        reply.body = std::move(r.value());
      } else {
        reply.error = r.error();
      }
    } catch (const std::exception& e) {
      reply.error = Error::from_exception(e);
    }
    if (reply.error)
      reply.body = nlohmann::json::object();
    if (info.reply_to.empty()) {
      spdlog::warn("request {} of type {} has no reply_to; the reply is dropped",
                   request.message_id, request.type);
      return;
    }
    Outgoing out;
    out.exchange = exchanges::kDefault;
    out.routing_key = info.reply_to;
    out.envelope = std::move(reply);
    out.delivery = Delivery::kTransient;
    // A lost reply costs the caller a retry at its deadline, as a lost request does: a confirm
    // would tell this side nothing it acts on.
    out.unconfirmed = true;
    out.rpc_correlation_id = info.rpc_correlation_id;
    info.publish_after_ack(std::move(out));
  });
}

RpcServer::~RpcServer() = default;

CommandRouter& CommandRouter::on(std::string type, RpcHandler handler) {
  handlers_[std::move(type)] = std::move(handler);
  return *this;
}

Result<nlohmann::json> CommandRouter::dispatch(const Envelope& request) const {
  auto it = handlers_.find(request.type);
  if (it == handlers_.end()) {
    return Error::of(codes::kInvalidArgument, "unknown command type '" + request.type + "'");
  }
  return it->second(request);
}

RpcHandler CommandRouter::handler() const {
  return [this](const Envelope& request) { return dispatch(request); };
}

}  // namespace wonderland::messaging
