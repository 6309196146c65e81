#include "wonderland/bench/raw_rpc.hpp"

#include <amqp.h>
#include <amqp_tcp_socket.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "wonderland/common/ids.hpp"

namespace wonderland::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct RawConn {
  amqp_connection_state_t c;
  explicit RawConn(const std::string& url) {
    std::string copy = url;
    amqp_connection_info info;
    amqp_default_connection_info(&info);
    if (amqp_parse_url(copy.data(), &info) != AMQP_STATUS_OK)
      throw std::runtime_error("bad url");
    c = amqp_new_connection();
    amqp_socket_t* s = amqp_tcp_socket_new(c);
    if (amqp_socket_open(s, info.host, info.port) != AMQP_STATUS_OK)
      throw std::runtime_error("connect");
    const char* vhost = (info.vhost == nullptr || *info.vhost == '\0') ? "/" : info.vhost;
    auto r = amqp_login(c, vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, info.user, info.password);
    if (r.reply_type != AMQP_RESPONSE_NORMAL)
      throw std::runtime_error("login");
    amqp_channel_open(c, 1);
    check("channel.open");
  }
  ~RawConn() {
    amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(c, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(c);
  }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;
  void check(const char* what) const {
    if (amqp_get_rpc_reply(c).reply_type != AMQP_RESPONSE_NORMAL)
      throw std::runtime_error(what);
  }
};

/// Reads until a whole message arrives, skipping confirms; false when the socket timed out.
bool raw_next(RawConn& conn, amqp_envelope_t& env, int timeout_ms) {
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  for (;;) {
    amqp_maybe_release_buffers(conn.c);
    auto r = amqp_consume_message(conn.c, &env, &tv, 0);
    if (r.reply_type == AMQP_RESPONSE_NORMAL)
      return true;
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT)
      return false;
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
      amqp_frame_t frame;
      if (amqp_simple_wait_frame_noblock(conn.c, &frame, &tv) != AMQP_STATUS_OK)
        return false;
      continue;  // a publisher confirm
    }
    throw std::runtime_error("raw consume failed");
  }
}

}  // namespace

Figures raw_rpc(const std::string& url, const RawRpcOptions& options) {
  const bool persistent = options.persistent;
  const int inflight = options.in_flight;
  const double seconds = options.seconds;
  const std::string queue = options.queue_prefix + new_uuid();
  std::atomic<bool> stop{false};
  std::atomic<bool> ready{false};
  std::thread server([&] {
    RawConn conn(url);
    amqp_queue_declare(conn.c, 1, amqp_cstring_bytes(queue.c_str()), 0, persistent ? 1 : 0, 0, 1,
                       amqp_empty_table);
    conn.check("queue.declare");
    amqp_basic_qos(conn.c, 1, 0, 512, 0);
    amqp_basic_consume(conn.c, 1, amqp_cstring_bytes(queue.c_str()), amqp_empty_bytes, 0, 0, 0,
                       amqp_empty_table);
    conn.check("basic.consume");
    // Replies go out unconfirmed, as the library's RpcServer sends them: the caller's deadline
    // covers a lost one.
    ready = true;
    while (!stop) {
      amqp_envelope_t env;
      if (!raw_next(conn, env, 200))
        continue;
      amqp_basic_properties_t props;
      props._flags = AMQP_BASIC_CORRELATION_ID_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
      props.correlation_id = env.message.properties.correlation_id;
      props.delivery_mode = 1;
      amqp_basic_publish(conn.c, 1, amqp_empty_bytes, env.message.properties.reply_to, 0, 0, &props,
                         env.message.body);
      amqp_basic_ack(conn.c, 1, env.delivery_tag, 0);
      amqp_destroy_envelope(&env);
    }
  });
  while (!ready)
    std::this_thread::yield();

  RawConn conn(url);
  amqp_basic_consume(conn.c, 1, amqp_cstring_bytes("amq.rabbitmq.reply-to"), amqp_empty_bytes, 0, 1,
                     0, amqp_empty_table);
  conn.check("basic.consume reply-to");
  if (persistent) {
    amqp_confirm_select(conn.c, 1);
    conn.check("confirm.select");
  }
  std::string body(options.body_bytes, 'x');
  std::vector<Clock::time_point> sent(static_cast<std::size_t>(inflight));
  std::vector<std::string> ids(static_cast<std::size_t>(inflight));
  for (int i = 0; i < inflight; ++i)
    ids[static_cast<std::size_t>(i)] = std::to_string(i);
  auto send = [&](int slot) {
    amqp_basic_properties_t props;
    props._flags =
        AMQP_BASIC_CORRELATION_ID_FLAG | AMQP_BASIC_REPLY_TO_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
    props.correlation_id = amqp_cstring_bytes(ids[static_cast<std::size_t>(slot)].c_str());
    props.reply_to = amqp_cstring_bytes("amq.rabbitmq.reply-to");
    props.delivery_mode = persistent ? 2 : 1;
    sent[static_cast<std::size_t>(slot)] = Clock::now();
    amqp_bytes_t b{body.size(), body.data()};
    amqp_basic_publish(conn.c, 1, amqp_empty_bytes, amqp_cstring_bytes(queue.c_str()), 0, 0, &props,
                       b);
  };
  std::vector<double> latencies;
  const auto warmup_end = Clock::now() + std::chrono::milliseconds(700);
  Clock::time_point start;
  bool measuring = false;
  for (int i = 0; i < inflight; ++i)
    send(i);
  for (;;) {
    amqp_envelope_t env;
    if (!raw_next(conn, env, 5000))
      throw std::runtime_error("raw reply timed out");
    int slot =
        std::stoi(std::string(static_cast<char*>(env.message.properties.correlation_id.bytes),
                              env.message.properties.correlation_id.len));
    amqp_destroy_envelope(&env);
    auto now = Clock::now();
    if (!measuring && now >= warmup_end) {
      measuring = true;
      start = now;
    }
    if (measuring) {
      latencies.push_back(ms_between(sent[static_cast<std::size_t>(slot)], now));
      if (std::chrono::duration<double>(now - start).count() >= seconds)
        break;
    }
    send(slot);
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  stop = true;
  server.join();
  for (int i = 0; i < inflight - 1; ++i) {
    amqp_envelope_t env;
    if (!raw_next(conn, env, 2000))
      break;
    amqp_destroy_envelope(&env);
  }
  amqp_queue_delete(conn.c, 1, amqp_cstring_bytes(queue.c_str()), 0, 0);
  return summarize(std::move(latencies), elapsed);
}

}  // namespace wonderland::bench
