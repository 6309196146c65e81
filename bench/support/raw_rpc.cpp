#include "wonderland/bench/raw_rpc.hpp"

#include <amqp.h>
#include <amqp_tcp_socket.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "wonderland/bench/durable_write.hpp"
#include "wonderland/bench/process.hpp"
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
      throw std::runtime_error("not an AMQP URL: " + url);
    const std::string where = std::string(info.host) + ":" + std::to_string(info.port);
    c = amqp_new_connection();
    // The destructor does not run when the constructor throws.
    auto fail = [this](const std::string& what) {
      amqp_destroy_connection(c);
      throw std::runtime_error(what);
    };
    amqp_socket_t* s = amqp_tcp_socket_new(c);
    if (const int st = amqp_socket_open(s, info.host, info.port); st != AMQP_STATUS_OK)
      fail("cannot connect to the broker at " + where + ": " + amqp_error_string2(st));
    const char* vhost = (info.vhost == nullptr || *info.vhost == '\0') ? "/" : info.vhost;
    auto r = amqp_login(c, vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, info.user, info.password);
    if (r.reply_type != AMQP_RESPONSE_NORMAL)
      fail("the broker at " + where + " refused the login");
    amqp_channel_open(c, 1);
    if (amqp_get_rpc_reply(c).reply_type != AMQP_RESPONSE_NORMAL)
      fail("the broker at " + where + " refused to open a channel");
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

/// The echo side: on a connection and a thread of its own, declares `queue` and answers every
/// request on it with its own body until stopped.
class EchoServer {
 public:
  EchoServer(const std::string& url, const std::string& queue, bool persistent) {
    thread_ = std::thread([this, url, queue, persistent] {
      try {
        serve(url, queue, persistent);
      } catch (...) {
        // Only a failure before serving is the constructor's to report: one later would race
        // with its read, and shows to the caller as a reply that timed out.
        if (!ready_) {
          failure_ = std::current_exception();
          ready_ = true;
        }
      }
    });
    while (!ready_)
      std::this_thread::yield();
    if (failure_) {
      thread_.join();
      std::rethrow_exception(failure_);
    }
  }
  ~EchoServer() { stop(); }
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;

  void stop() {
    stop_ = true;
    if (thread_.joinable())
      thread_.join();
  }

 private:
  void serve(const std::string& url, const std::string& queue, bool persistent) {
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
    ready_ = true;
    while (!stop_) {
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
  }

  std::atomic<bool> stop_{false};
  std::atomic<bool> ready_{false};
  std::exception_ptr failure_;
  std::thread thread_;
};

/// The caller's side: a connection consuming direct reply-to, which publishes transient requests
/// of `body_bytes` to `queue` with a correlation id of the caller's choosing.
struct Caller {
  Caller(const std::string& url, std::string queue_name, std::size_t body_bytes)
      : conn(url), queue(std::move(queue_name)), body(body_bytes, 'x') {
    amqp_basic_consume(conn.c, 1, amqp_cstring_bytes("amq.rabbitmq.reply-to"), amqp_empty_bytes, 0,
                       1, 0, amqp_empty_table);
    conn.check("basic.consume reply-to");
  }
  void send(const std::string& correlation_id, bool persistent) {
    amqp_basic_properties_t props;
    props._flags =
        AMQP_BASIC_CORRELATION_ID_FLAG | AMQP_BASIC_REPLY_TO_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
    props.correlation_id = amqp_cstring_bytes(correlation_id.c_str());
    props.reply_to = amqp_cstring_bytes("amq.rabbitmq.reply-to");
    props.delivery_mode = persistent ? 2 : 1;
    amqp_bytes_t b{body.size(), body.data()};
    amqp_basic_publish(conn.c, 1, amqp_empty_bytes, amqp_cstring_bytes(queue.c_str()), 0, 0, &props,
                       b);
  }
  /// The next reply's correlation id, or nullopt when none came within `timeout_ms`.
  std::optional<std::string> receive_within(int timeout_ms) {
    amqp_envelope_t env;
    if (!raw_next(conn, env, timeout_ms))
      return std::nullopt;
    std::string id(static_cast<char*>(env.message.properties.correlation_id.bytes),
                   env.message.properties.correlation_id.len);
    amqp_destroy_envelope(&env);
    return id;
  }
  /// The next reply's correlation id. Throws when none came within 5 s.
  std::string receive() {
    auto id = receive_within(5000);
    if (!id)
      throw std::runtime_error("raw reply timed out");
    return *id;
  }
  ~Caller() { amqp_queue_delete(conn.c, 1, amqp_cstring_bytes(queue.c_str()), 0, 0); }
  Caller(const Caller&) = delete;
  Caller& operator=(const Caller&) = delete;

  RawConn conn;
  std::string queue;
  std::string body;
};

}  // namespace

Figures raw_rpc(const std::string& url, const RawRpcOptions& options) {
  const bool persistent = options.persistent;
  const auto inflight = static_cast<std::size_t>(options.in_flight);
  const std::string queue = options.queue_prefix + new_uuid();
  EchoServer server(url, queue, persistent);
  Caller caller(url, queue, options.body_bytes);
  if (persistent) {
    amqp_confirm_select(caller.conn.c, 1);
    caller.conn.check("confirm.select");
  }
  std::vector<Clock::time_point> sent(inflight);
  std::vector<std::string> ids(inflight);
  for (std::size_t i = 0; i < inflight; ++i)
    ids[i] = std::to_string(i);
  auto send = [&](std::size_t slot) {
    sent[slot] = Clock::now();
    caller.send(ids[slot], persistent);
  };
  std::vector<double> latencies;
  const auto warmup_end = Clock::now() + std::chrono::milliseconds(700);
  Clock::time_point start;
  double cpu_at_start = 0;
  bool measuring = false;
  for (std::size_t i = 0; i < inflight; ++i)
    send(i);
  for (;;) {
    const auto slot = static_cast<std::size_t>(std::stoi(caller.receive()));
    auto now = Clock::now();
    if (!measuring && now >= warmup_end) {
      measuring = true;
      start = now;
      cpu_at_start = own_cpu_seconds();
    }
    if (measuring) {
      latencies.push_back(ms_between(sent[slot], now));
      if (std::chrono::duration<double>(now - start).count() >= options.seconds)
        break;
    }
    send(slot);
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu = own_cpu_seconds() - cpu_at_start;
  server.stop();
  for (std::size_t i = 0; i + 1 < inflight; ++i) {
    if (!caller.receive_within(2000))
      break;
  }
  return summarize(std::move(latencies), elapsed, cpu);
}

SerialWriteAhead serial_write_ahead(const std::string& url, const RawRpcOptions& options,
                                    const std::filesystem::path& dir, int steps) {
  const std::string queue = options.queue_prefix + new_uuid();
  EchoServer server(url, queue, false);
  Caller caller(url, queue, options.body_bytes);
  DurableWriteFile file(dir);
  std::vector<double> workflows;
  std::vector<double> round_trips;
  std::vector<double> writes;
  const auto warmup_end = Clock::now() + std::chrono::milliseconds(700);
  Clock::time_point start;
  bool measuring = false;
  const auto durable_write = [&] {
    const auto t0 = Clock::now();
    file.write();
    if (measuring)
      writes.push_back(ms_between(t0, Clock::now()));
  };
  for (;;) {
    const auto began = Clock::now();
    durable_write();  // the start, durable before the first command leaves
    for (int step = 0; step < steps; ++step) {
      const auto sent = Clock::now();
      caller.send("step", false);
      caller.receive();
      if (measuring)
        round_trips.push_back(ms_between(sent, Clock::now()));
      durable_write();  // the step's outcome (and the next command), durable before it leaves
    }
    const auto now = Clock::now();
    if (!measuring) {
      if (now >= warmup_end) {
        measuring = true;
        start = now;
      }
      continue;
    }
    workflows.push_back(ms_between(began, now));
    if (std::chrono::duration<double>(now - start).count() >= options.seconds)
      break;
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  server.stop();
  return {summarize(std::move(workflows), elapsed), summarize(std::move(round_trips), elapsed),
          summarize(std::move(writes), elapsed)};
}

}  // namespace wonderland::bench
