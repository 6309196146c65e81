// RPC round trips per second and latency, for the messaging library and for a minimal
// rabbitmq-c echo client/server measured in the same run, at several numbers of requests in
// flight. The broker is the bottleneck on a small machine, so the raw figure is the ceiling and
// the ratio is what the library costs.
//
//   build/bench/messaging/rpc_benchmark --url amqp://guest:guest@127.0.0.1:5672/
#include <amqp.h>
#include <amqp_tcp_socket.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "wonderland/common/ids.hpp"
#include "wonderland/messaging/connection.hpp"
#include "wonderland/messaging/rpc.hpp"
#include <spdlog/spdlog.h>

namespace {

using Clock = std::chrono::steady_clock;
using namespace wonderland;
using namespace wonderland::messaging;

struct Figures {
  double per_second = 0;
  double p50_ms = 0;
  double p99_ms = 0;
};

Figures summarize(std::vector<double>& latencies_ms, double seconds) {
  Figures f;
  if (latencies_ms.empty()) return f;
  std::sort(latencies_ms.begin(), latencies_ms.end());
  f.per_second = static_cast<double>(latencies_ms.size()) / seconds;
  f.p50_ms = latencies_ms[latencies_ms.size() / 2];
  f.p99_ms = latencies_ms[std::min(latencies_ms.size() - 1, latencies_ms.size() * 99 / 100)];
  return f;
}

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// ---------------------------------------------------------------------------------------------
// Raw rabbitmq-c: the reference. One connection per side, blocking calls, no envelope.

struct RawConn {
  amqp_connection_state_t c;
  explicit RawConn(const std::string& url) {
    std::string copy = url;
    amqp_connection_info info;
    amqp_default_connection_info(&info);
    if (amqp_parse_url(copy.data(), &info) != AMQP_STATUS_OK) throw std::runtime_error("bad url");
    c = amqp_new_connection();
    amqp_socket_t* s = amqp_tcp_socket_new(c);
    if (amqp_socket_open(s, info.host, info.port) != AMQP_STATUS_OK) throw std::runtime_error("connect");
    const char* vhost = (info.vhost == nullptr || *info.vhost == '\0') ? "/" : info.vhost;
    auto r = amqp_login(c, vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, info.user, info.password);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) throw std::runtime_error("login");
    amqp_channel_open(c, 1);
    check("channel.open");
  }
  ~RawConn() {
    amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(c, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(c);
  }
  void check(const char* what) const {
    if (amqp_get_rpc_reply(c).reply_type != AMQP_RESPONSE_NORMAL) throw std::runtime_error(what);
  }
};

/// Reads until a whole message arrives, skipping confirms; false when the socket timed out.
bool raw_next_message(RawConn& conn, amqp_envelope_t& env, int timeout_ms) {
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  for (;;) {
    amqp_maybe_release_buffers(conn.c);
    auto r = amqp_consume_message(conn.c, &env, &tv, 0);
    if (r.reply_type == AMQP_RESPONSE_NORMAL) return true;
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT) return false;
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
      amqp_frame_t frame;
      if (amqp_simple_wait_frame_noblock(conn.c, &frame, &tv) != AMQP_STATUS_OK) return false;
      continue;  // basic.ack of a confirm
    }
    throw std::runtime_error("raw consume failed");
  }
}

Figures run_raw(const std::string& url, bool persistent, int inflight, double seconds) {
  std::string queue = "bench.raw." + new_uuid();
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
    if (persistent) {
      amqp_confirm_select(conn.c, 1);
      conn.check("confirm.select");
    }
    ready = true;
    while (!stop) {
      amqp_envelope_t env;
      if (!raw_next_message(conn, env, 200)) continue;
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
  while (!ready) std::this_thread::yield();

  RawConn conn(url);
  amqp_basic_consume(conn.c, 1, amqp_cstring_bytes("amq.rabbitmq.reply-to"), amqp_empty_bytes, 0, 1,
                     0, amqp_empty_table);
  conn.check("basic.consume reply-to");
  if (persistent) {
    amqp_confirm_select(conn.c, 1);
    conn.check("confirm.select");
  }
  std::string body(256, 'x');
  std::vector<Clock::time_point> sent(static_cast<std::size_t>(inflight));
  std::vector<std::string> ids(static_cast<std::size_t>(inflight));
  for (int i = 0; i < inflight; ++i) ids[static_cast<std::size_t>(i)] = std::to_string(i);
  auto send = [&](int slot) {
    amqp_basic_properties_t props;
    props._flags = AMQP_BASIC_CORRELATION_ID_FLAG | AMQP_BASIC_REPLY_TO_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
    props.correlation_id = amqp_cstring_bytes(ids[static_cast<std::size_t>(slot)].c_str());
    props.reply_to = amqp_cstring_bytes("amq.rabbitmq.reply-to");
    props.delivery_mode = persistent ? 2 : 1;
    sent[static_cast<std::size_t>(slot)] = Clock::now();
    amqp_bytes_t b{body.size(), body.data()};
    amqp_basic_publish(conn.c, 1, amqp_empty_bytes, amqp_cstring_bytes(queue.c_str()), 0, 0, &props, b);
  };
  std::vector<double> latencies;
  auto warmup_end = Clock::now() + std::chrono::milliseconds(500);
  Clock::time_point start;
  bool measuring = false;
  for (int i = 0; i < inflight; ++i) send(i);
  for (;;) {
    amqp_envelope_t env;
    if (!raw_next_message(conn, env, 5000)) throw std::runtime_error("raw reply timed out");
    int slot = std::stoi(std::string(static_cast<char*>(env.message.properties.correlation_id.bytes),
                                     env.message.properties.correlation_id.len));
    amqp_destroy_envelope(&env);
    auto now = Clock::now();
    if (!measuring && now >= warmup_end) {
      measuring = true;
      start = now;
    }
    if (measuring) {
      latencies.push_back(ms_since(sent[static_cast<std::size_t>(slot)]));
      if (std::chrono::duration<double>(now - start).count() >= seconds) break;
    }
    send(slot);
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  stop = true;
  server.join();
  // Drain what is still in flight, so that the next run starts clean.
  for (int i = 0; i < inflight - 1; ++i) {
    amqp_envelope_t env;
    if (!raw_next_message(conn, env, 2000)) break;
    amqp_destroy_envelope(&env);
  }
  amqp_queue_delete(conn.c, 1, amqp_cstring_bytes(queue.c_str()), 0, 0);
  return summarize(latencies, elapsed);
}

// ---------------------------------------------------------------------------------------------
// The library: RpcServer (handler on the I/O thread) and an asynchronous RpcClient.

Figures run_library(const std::string& url, bool persistent, int inflight, double seconds) {
  ConnectionOptions o;
  o.url = url;
  o.publisher_confirms = persistent;  // transient RPC: the reply is the acknowledgement
  o.service = "bench-server";
  Connection server_conn(o);
  o.service = "bench-client";
  Connection client_conn(o);
  QueueName queue{"bench.lib." + new_uuid()};
  RpcServer server(server_conn, RpcServerOptions{queue, 512, 0},
                   [](const Envelope& req) -> Result<nlohmann::json> { return req.body; });
  RpcClient client(client_conn);
  std::string pad(256, 'x');
  std::mutex mu;
  std::vector<double> latencies;
  std::atomic<bool> measuring{false};
  std::atomic<bool> stop{false};
  std::atomic<int> outstanding{0};
  std::atomic<long> failures{0};
  std::function<void()> issue = [&] {
    auto sent = Clock::now();
    ++outstanding;
    RpcRequest req{queue, Envelope::make("bench.echo", {{"pad", pad}}), std::chrono::seconds(10),
                   persistent ? Delivery::kPersistent : Delivery::kTransient};
    client.call(std::move(req), [&, sent](Result<Envelope> r) {
      --outstanding;
      if (!r.ok()) ++failures;
      if (measuring) {
        std::lock_guard lock(mu);
        latencies.push_back(ms_since(sent));
      }
      if (!stop) issue();
    });
  };
  for (int i = 0; i < inflight; ++i) issue();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto start = Clock::now();
  measuring = true;
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  measuring = false;
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  stop = true;
  auto drain_deadline = Clock::now() + std::chrono::seconds(10);
  while (outstanding > 0 && Clock::now() < drain_deadline) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (failures > 0) std::fprintf(stderr, "warning: %ld failed calls\n", failures.load());
  server_conn.delete_queue(queue);
  std::lock_guard lock(mu);
  return summarize(latencies, elapsed);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"RPC round-trip benchmark: the messaging library against raw rabbitmq-c"};
  std::string url = std::getenv("WONDERLAND_AMQP_URL") ? std::getenv("WONDERLAND_AMQP_URL")
                                                       : "amqp://guest:guest@127.0.0.1:5672/";
  double seconds = 3.0;
  std::vector<int> inflight{1, 16, 128};
  std::vector<std::string> modes{"transient", "persistent"};
  app.add_option("--url", url, "broker URL (default: $WONDERLAND_AMQP_URL)");
  app.add_option("--seconds", seconds, "measured seconds per cell")->check(CLI::PositiveNumber);
  app.add_option("--inflight", inflight, "requests in flight");
  app.add_option("--modes", modes, "transient and/or persistent")
      ->check(CLI::IsMember({"transient", "persistent"}));
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);

  std::printf("RPC round trips over %s, 256-byte payload, %.1f s per cell\n\n", url.c_str(), seconds);
  std::printf("| mode       | in flight | raw rt/s | lib rt/s | ratio | raw p50 ms | lib p50 ms | raw p99 ms | lib p99 ms |\n");
  std::printf("|------------|-----------|----------|----------|-------|------------|------------|------------|------------|\n");
  for (const auto& mode : modes) {
    bool persistent = mode == "persistent";
    for (int n : inflight) {
      Figures raw = run_raw(url, persistent, n, seconds);
      Figures lib = run_library(url, persistent, n, seconds);
      std::printf("| %-10s | %9d | %8.0f | %8.0f | %4.0f%% | %10.3f | %10.3f | %10.3f | %10.3f |\n",
                  mode.c_str(), n, raw.per_second, lib.per_second,
                  raw.per_second > 0 ? 100.0 * lib.per_second / raw.per_second : 0.0, raw.p50_ms,
                  lib.p50_ms, raw.p99_ms, lib.p99_ms);
      std::fflush(stdout);
    }
  }
  return 0;
}
