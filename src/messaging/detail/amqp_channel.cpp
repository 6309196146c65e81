// AmqpChannel: the RAII owner of a rabbitmq-c connection and its channels (1 for consumers and
// confirmed publishes, 2 for inspections, 3 for unconfirmed publishes). It logs in, runs the
// AMQP methods Wonderland uses, checks every reply, and reads events from the socket.
#include <amqp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <string>
#include <string_view>
#include <vector>

#include "detail/amqp.hpp"
#include "detail/amqp_codec.hpp"
#include "detail/amqp_socket.hpp"
#include "detail/frame_writer.hpp"
#include "detail/write_watch.hpp"

namespace wonderland::messaging::detail {
namespace {

constexpr amqp_channel_t kChannel = 1;
/// Where queues are inspected (passive declarations): the broker closes a channel on which a
/// queue is missing or refused, and closing this one costs the session nothing (channel 1 keeps
/// its consumers, confirm mode and publishes in flight).
constexpr amqp_channel_t kInspectionChannel = 2;
/// Where publishes that want no confirm go (RPC replies): never in confirm mode, so the broker
/// sends nothing back for them. Consumers that acknowledge consume and settle here too: the
/// broker handles one channel's frames in order, so a request's acknowledgement sent before its
/// reply counts even when routing that reply closes the connection (see
/// DeliveryInfo::publish_after_ack). Channel 1 keeps the direct reply-to consumer, which must
/// share the channel of the requests.
constexpr amqp_channel_t kUnconfirmedChannel = 3;
constexpr int kReplyNotFound = 404;

/// The fields that basic.deliver and basic.get-ok share.
template <typename Method>
DeliverEvent delivery_of(const Method& m) {
  DeliverEvent ev;
  ev.delivery_tag = m.delivery_tag;
  ev.redelivered = m.redelivered != 0;
  ev.exchange = str(m.exchange);
  ev.routing_key = str(m.routing_key);
  return ev;
}

}  // namespace

struct AmqpChannel::State {
  explicit State(std::chrono::milliseconds write_timeout)
      : timeout(write_timeout), watch(write_timeout) {}

  amqp_connection_state_t conn = nullptr;
  int heartbeat_s = 0;
  QueueType queue_type = QueueType::kClassic;
  /// How long a write may find no room in the socket; also the connect and RPC time-outs.
  std::chrono::milliseconds timeout;
  /// Bounds the writes rabbitmq-c makes (all over TLS; the synchronous methods over plain TCP),
  /// which wait for room in the socket with no time limit of their own.
  WriteWatch watch;
  bool corked = false;
  /// Over plain TCP, publishes and acknowledgements are encoded here and held in `out`, then sent
  /// with one system call for the whole message (rabbitmq-c makes one per frame) or, while
  /// corked, for the whole batch. Over TLS rabbitmq-c owns the stream: it writes them, and
  /// TCP_CORK groups them.
  bool own_frames = false;
  FrameWriter out;
  /// While corked, held frames past this size are sent all the same.
  static constexpr std::size_t kSendAtBytes = std::size_t{64} * 1024;
  /// Whether kInspectionChannel is open (opened at the first inspection, again after a refusal).
  bool inspection_open = false;
  /// Whether kUnconfirmedChannel is open (at the first unconfirmed publish).
  bool unconfirmed_open = false;
  /// Why the broker's certificate was refused, filled during the TLS handshake.
  std::string tls_failure;

  /// Opens `channel` unless `open` says it is; for the channels opened at their first use.
  void open_once(amqp_channel_t channel, bool& open, const char* what) {
    if (open)
      return;
    Uncorked uncorked(*this);
    amqp_channel_open(conn, channel);
    check(what, channel);
    open = true;
  }

  void set_cork(bool on) {
    if (corked == on)
      return;
    corked = on;
    if (own_frames) {
      if (!on)
        send_held();
      return;
    }
    int fd = amqp_get_sockfd(conn);
    int value = on ? 1 : 0;
    // Best effort: without it, frames only leave in more segments.
    if (fd >= 0)
      ::setsockopt(fd, IPPROTO_TCP, TCP_CORK, &value, sizeof value);
  }

  /// Sends the frames held in `out`; throws AmqpError when the socket fails.
  void send_held() {
    if (!out.empty())
      out.write_to(amqp_get_sockfd(conn), timeout);
  }

  /// After frames were added to `out`: sends them unless corked.
  void added_frames() {
    if (!corked || out.size() >= kSendAtBytes)
      send_held();
  }

  /// Adds a method frame to `out` (sent with the batch, or at once when not corked).
  void hold_method(amqp_channel_t channel, amqp_method_number_t id, void* decoded) {
    out.method(channel, id, decoded);
    added_frames();
  }

  /// Around a call into rabbitmq-c that may write: its writes are bounded by `watch`.
  WriteWatch::Armed bounded() { return WriteWatch::Armed(watch, amqp_get_sockfd(conn)); }

  /// Around a synchronous method: sends what the cork holds back before waiting for the broker's
  /// answer, and corks again afterwards. rabbitmq-c writes the method: the watch is armed.
  struct Uncorked {
    State& s;
    WriteWatch::Armed armed;
    bool was;
    explicit Uncorked(State& state) : s(state), armed(state.bounded()), was(state.corked) {
      s.set_cork(false);
    }
    ~Uncorked() {
      if (was)
        s.set_cork(true);
    }
    Uncorked(const Uncorked&) = delete;
    Uncorked& operator=(const Uncorked&) = delete;
  };

  /// Logs in as `connection_name`, asking for a heartbeat every `wanted_heartbeat_s` seconds,
  /// and keeps the interval the broker agreed to; throws AmqpError when refused.
  void login(const UrlParts& url, const std::string& connection_name, int wanted_heartbeat_s) {
    TableBuilder client_properties;
    client_properties.add_string("connection_name", connection_name);
    amqp_table_t props = client_properties.table();
    // Without consumer_cancel_notify the broker drops a consumer it cancels (its queue was
    // deleted, or lost on a node) without a word: the connection stays up and nothing is delivered
    // again. With it, a basic.cancel arrives and the consumer starts again (Consumers). rabbitmq-c
    // merges this table into its own capabilities.
    amqp_table_entry_t capability;
    capability.key = amqp_cstring_bytes("consumer_cancel_notify");
    capability.value.kind = AMQP_FIELD_KIND_BOOLEAN;
    capability.value.value.boolean = 1;
    std::vector<amqp_table_entry_t> entries(props.entries, props.entries + props.num_entries);
    amqp_table_entry_t capabilities;
    capabilities.key = amqp_cstring_bytes("capabilities");
    capabilities.value.kind = AMQP_FIELD_KIND_TABLE;
    capabilities.value.value.table.num_entries = 1;
    capabilities.value.value.table.entries = &capability;
    entries.push_back(capabilities);
    props.num_entries = static_cast<int>(entries.size());
    props.entries = entries.data();
    amqp_rpc_reply_t r =
        amqp_login_with_properties(conn, url.vhost.c_str(), 0, 131072, wanted_heartbeat_s, &props,
                                   AMQP_SASL_METHOD_PLAIN, url.user.c_str(), url.password.c_str());
    if (url.tls && r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
      // The broker checks a client certificate after the handshake: its refusal arrives here.
      throw AmqpError("login over TLS to " + url.host + ":" + std::to_string(url.port) + ": " +
                      amqp_error_string2(r.library_error) + ": " + openssl_errors());
    }
    check_reply(r, "login");
    heartbeat_s = amqp_get_heartbeat(conn);
  }

  ~State() {
    if (conn != nullptr)
      amqp_destroy_connection(conn);
  }

  /// Checks the reply of the last synchronous call on `channel`; throws AmqpError on failure.
  void check(const char* what, amqp_channel_t channel = kChannel) {
    amqp_rpc_reply_t r = amqp_get_rpc_reply(conn);
    check_reply(r, what, channel);
  }

  void check_reply(const amqp_rpc_reply_t& r, const char* what, amqp_channel_t channel = kChannel) {
    switch (r.reply_type) {
      case AMQP_RESPONSE_NORMAL:
        return;
      case AMQP_RESPONSE_NONE:
        throw AmqpError(std::string(what) + ": no reply from the broker");
      case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        fail(what, amqp_error_string2(r.library_error));
      case AMQP_RESPONSE_SERVER_EXCEPTION:
        if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
          const auto* m = static_cast<const amqp_connection_close_t*>(r.reply.decoded);
          std::string text = str(m->reply_text);
          out.discard();  // the connection is closing: nothing held may follow the close-ok
          amqp_connection_close_ok_t ok{};
          amqp_send_method(conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
          throw AmqpError(std::string(what) + ": broker closed the connection: " +
                              std::to_string(m->reply_code) + " " + text,
                          true, m->reply_code);
        }
        if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
          const auto* m = static_cast<const amqp_channel_close_t*>(r.reply.decoded);
          std::string text = str(m->reply_text);
          out.discard();  // the connection is dropped after a channel closes (BrokerSession)
          amqp_channel_close_ok_t ok{};
          amqp_send_method(conn, channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
          throw AmqpError(
              std::string(what) + ": broker refused: " + std::to_string(m->reply_code) + " " + text,
              true, m->reply_code);
        }
        throw AmqpError(std::string(what) + ": unexpected broker reply");
    }
    throw AmqpError(std::string(what) + ": unknown reply type");
  }

  void check_status(int status, const char* what) {
    if (status != AMQP_STATUS_OK)
      fail(what, amqp_error_string2(status));
  }

  /// Throws the failure of rabbitmq-c's `what`, which says `detail`; when the watch shut the
  /// socket down, the cause is that the broker took nothing, whatever rabbitmq-c saw after it.
  [[noreturn]] void fail(const char* what, const char* detail) {
    if (watch.fired()) {
      throw AmqpError(std::string(what) + ": no room in the socket for " +
                      std::to_string(watch.timeout().count()) +
                      " ms: the broker took nothing written to it, so the connection was shut "
                      "down");
    }
    throw AmqpError(std::string(what) + ": " + detail);
  }

  /// Reads the header and body frames that follow a basic.deliver or basic.return.
  void read_content(Properties& props, std::string& body) {
    amqp_frame_t frame;
    timeval tv = to_timeval(timeout);
    check_status(amqp_simple_wait_frame_noblock(conn, &frame, &tv), "reading message header");
    if (frame.frame_type != AMQP_FRAME_HEADER)
      throw AmqpError("expected a content header frame");
    props = read_properties(
        static_cast<const amqp_basic_properties_t*>(frame.payload.properties.decoded));
    auto size = static_cast<std::size_t>(frame.payload.properties.body_size);
    body.clear();
    body.reserve(size);
    while (body.size() < size) {
      tv = to_timeval(timeout);
      check_status(amqp_simple_wait_frame_noblock(conn, &frame, &tv), "reading message body");
      if (frame.frame_type != AMQP_FRAME_BODY)
        throw AmqpError("expected a content body frame");
      body.append(static_cast<const char*>(frame.payload.body_fragment.bytes),
                  frame.payload.body_fragment.len);
    }
  }
};

AmqpChannel::AmqpChannel(const UrlParts& url, const TlsOptions& tls,
                         const std::string& connection_name, int heartbeat_s,
                         std::chrono::milliseconds timeout, QueueType queue_type)
    : s_(std::make_unique<State>(timeout)) {
  s_->queue_type = queue_type;
  s_->conn = amqp_new_connection();
  if (s_->conn == nullptr)
    throw AmqpError("out of memory creating a connection");
  open_socket(s_->conn, url, tls, timeout, &s_->tls_failure);
  if (url.tls && !tls.verify) {
    spdlog::warn(
        "connected to the broker at {}:{} over TLS WITHOUT verifying its certificate "
        "(WONDERLAND_AMQP_TLS_VERIFY=0): for tests and development only",
        url.host, url.port);
  }
  timeval tv = to_timeval(timeout);
  amqp_set_handshake_timeout(s_->conn, &tv);
  amqp_set_rpc_timeout(s_->conn, &tv);

  s_->login(url, connection_name, heartbeat_s);
  s_->own_frames = !url.tls;
  s_->out.set_frame_max(static_cast<std::size_t>(amqp_get_frame_max(s_->conn)));
  amqp_channel_open(s_->conn, kChannel);
  s_->check("channel.open");
  // rabbitmq-c writes a heartbeat whenever one is due while it waits for a frame, and that write
  // waits for room in the socket with no time limit: with a broker that stopped reading (a
  // memory alarm) and a full socket, the I/O thread would stay in it for as long as the alarm.
  // Its heartbeats are turned off here, after the broker agreed to heartbeat_s; the session
  // sends them (send_heartbeat) and watches the broker's. The connection is idle now, as
  // amqp_tune_connection requires: channel.open-ok was the last frame read.
  if (s_->heartbeat_s > 0) {
    s_->check_status(amqp_tune_connection(s_->conn, amqp_get_channel_max(s_->conn),
                                          amqp_get_frame_max(s_->conn), 0),
                     "taking over the heartbeats");
  }
}

AmqpChannel::~AmqpChannel() {
  // Best effort: a polite close when the socket still works and has room, so that the close
  // cannot wait on a broker that stopped reading; destroying frees everything.
  // POLLOUT alone: at least a third of its buffer is free, and no error or hang-up.
  if (s_->conn != nullptr && amqp_get_socket(s_->conn) != nullptr && fd() >= 0 &&
      poll_writable(fd(), std::chrono::milliseconds(0)) == POLLOUT) {
    // Frames are held only inside a batch, which sends them at its end: a connection closed
    // while some are held has failed, and they go with it rather than into a socket that may be
    // stuck (unconfirmed publishes are sent again, unacknowledged deliveries come again).
    s_->out.discard();
    s_->set_cork(false);
    timeval tv{1, 0};
    amqp_set_rpc_timeout(s_->conn, &tv);
    auto armed = s_->bounded();
    amqp_connection_close(s_->conn, AMQP_REPLY_SUCCESS);
  }
}

int AmqpChannel::fd() const {
  return amqp_get_sockfd(s_->conn);
}
int AmqpChannel::heartbeat_s() const {
  return s_->heartbeat_s;
}

void AmqpChannel::declare_exchange(const ExchangeSpec& spec) {
  State::Uncorked uncorked(*s_);
  std::string type(exchange_type_name(spec.type));
  amqp_exchange_declare(s_->conn, kChannel, bytes(spec.name.str()), bytes(type), 0,
                        spec.durable ? 1 : 0, 0, 0, amqp_empty_table);
  s_->check("exchange.declare");
}

void AmqpChannel::declare_queue(const QueueSpec& spec) {
  State::Uncorked uncorked(*s_);
  TableBuilder args;
  if (spec.dead_letter_exchange) {
    args.add_string("x-dead-letter-exchange", spec.dead_letter_exchange->str());
    args.add_string("x-dead-letter-routing-key", spec.name.str());
  }
  if (spec.max_length)
    args.add_int("x-max-length", *spec.max_length);
  if (spec.reject_publish_when_full)
    args.add_string("x-overflow", "reject-publish");
  if (spec.message_ttl)
    args.add_int("x-message-ttl", spec.message_ttl->count());
  if (spec.expires)
    args.add_int("x-expires", spec.expires->count());
  // Every argument above is one quorum queues accept (RabbitMQ 3.10 and later); x-max-priority,
  // for one, is not, and is not used.
  bool quorum =
      s_->queue_type == QueueType::kQuorum && spec.durable && !spec.exclusive && !spec.auto_delete;
  if (quorum)
    args.add_string("x-queue-type", "quorum");
  amqp_queue_declare(s_->conn, kChannel, bytes(spec.name.str()), spec.passive ? 1 : 0,
                     spec.durable ? 1 : 0, spec.exclusive ? 1 : 0, spec.auto_delete ? 1 : 0,
                     spec.passive ? amqp_empty_table : args.table());
  try {
    s_->check("queue.declare");
  } catch (const AmqpError& e) {
    constexpr int kPreconditionFailed = 406;
    if (e.reply_code() != kPreconditionFailed || spec.passive ||
        std::string_view(e.what()).find("x-queue-type") == std::string_view::npos) {
      throw;
    }
    throw AmqpError(std::string(e.what()) + " (queue '" + spec.name.str() + "' exists as " +
                        (quorum ? "a classic" : "a quorum") + " queue and " +
                        "WONDERLAND_AMQP_QUEUE_TYPE=" + (quorum ? "quorum" : "classic") +
                        " declares it as the other type: delete it (rabbitmqctl delete_queue " +
                        spec.name.str() + "; its messages are lost) or keep the old queue type)",
                    true, e.reply_code());
  }
}

Result<QueueStatus> AmqpChannel::queue_status(const QueueName& queue) {
  State::Uncorked uncorked(*s_);
  s_->open_once(kInspectionChannel, s_->inspection_open, "channel.open (inspection)");
  amqp_queue_declare_ok_t* ok = amqp_queue_declare(s_->conn, kInspectionChannel, bytes(queue.str()),
                                                   1, 0, 0, 0, amqp_empty_table);
  amqp_rpc_reply_t r = amqp_get_rpc_reply(s_->conn);
  if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
    // Refused (missing, or exclusive to another connection): only the inspection channel closed.
    const auto* m = static_cast<const amqp_channel_close_t*>(r.reply.decoded);
    const int code = m->reply_code;
    std::string text = str(m->reply_text);
    amqp_channel_close_ok_t close_ok{};
    amqp_send_method(s_->conn, kInspectionChannel, AMQP_CHANNEL_CLOSE_OK_METHOD, &close_ok);
    s_->inspection_open = false;
    if (code == kReplyNotFound)
      return Error::of(codes::kNotFound, "queue '" + queue.str() + "' does not exist");
    return Error::of(codes::kFailedPrecondition, "queue '" + queue.str() +
                                                     "': the broker refused to inspect it: " +
                                                     std::to_string(code) + " " + text);
  }
  s_->check_reply(r, "queue.declare (passive)", kInspectionChannel);
  if (ok == nullptr)
    throw AmqpError("queue.declare (passive): no reply from the broker");
  return QueueStatus{ok->message_count, ok->consumer_count};
}

void AmqpChannel::bind(const BindingSpec& spec) {
  State::Uncorked uncorked(*s_);
  amqp_queue_bind(s_->conn, kChannel, bytes(spec.queue.str()), bytes(spec.exchange.str()),
                  bytes(spec.routing_key), amqp_empty_table);
  s_->check("queue.bind");
}

void AmqpChannel::delete_queue(const QueueName& queue) {
  State::Uncorked uncorked(*s_);
  amqp_queue_delete(s_->conn, kChannel, bytes(queue.str()), 0, 0);
  s_->check("queue.delete");
}

void AmqpChannel::delete_exchange(const ExchangeName& exchange) {
  State::Uncorked uncorked(*s_);
  amqp_exchange_delete(s_->conn, kChannel, bytes(exchange.str()), 0);
  s_->check("exchange.delete");
}

void AmqpChannel::qos(std::uint16_t prefetch) {
  State::Uncorked uncorked(*s_);
  s_->open_once(kUnconfirmedChannel, s_->unconfirmed_open, "channel.open (unconfirmed)");
  amqp_basic_qos(s_->conn, kUnconfirmedChannel, 0, prefetch, 0);
  s_->check("basic.qos", kUnconfirmedChannel);
}

void AmqpChannel::confirm_select() {
  State::Uncorked uncorked(*s_);
  amqp_confirm_select(s_->conn, kChannel);
  s_->check("confirm.select");
}

std::string AmqpChannel::consume(const std::string& queue, bool no_ack) {
  State::Uncorked uncorked(*s_);
  const amqp_channel_t channel = no_ack ? kChannel : kUnconfirmedChannel;
  if (!no_ack)
    s_->open_once(kUnconfirmedChannel, s_->unconfirmed_open, "channel.open (unconfirmed)");
  amqp_basic_consume_ok_t* ok = amqp_basic_consume(
      s_->conn, channel, bytes(queue), amqp_empty_bytes, 0, no_ack ? 1 : 0, 0, amqp_empty_table);
  s_->check("basic.consume", channel);
  return str(ok->consumer_tag);
}

void AmqpChannel::cancel(const std::string& consumer_tag) {
  State::Uncorked uncorked(*s_);
  amqp_basic_cancel(s_->conn, kUnconfirmedChannel, bytes(consumer_tag));
  s_->check("basic.cancel", kUnconfirmedChannel);
}

void AmqpChannel::publish(const std::string& exchange, const std::string& routing_key,
                          bool mandatory, const Properties& p, const std::string& body,
                          bool confirmed) {
  amqp_channel_t channel = kChannel;
  if (!confirmed) {
    s_->open_once(kUnconfirmedChannel, s_->unconfirmed_open, "channel.open (unconfirmed)");
    channel = kUnconfirmedChannel;
  }
  BasicProperties properties(p);
  if (s_->own_frames) {
    amqp_basic_publish_t method{};
    method.exchange = bytes(exchange);
    method.routing_key = bytes(routing_key);
    method.mandatory = mandatory ? 1 : 0;
    // The encoder only reads the properties; rabbitmq-c's API takes them as non-const.
    s_->out.publish(channel, &method, const_cast<amqp_basic_properties_t*>(properties.get()), body);
    s_->added_frames();
    return;
  }
  auto armed = s_->bounded();
  int rc = amqp_basic_publish(s_->conn, channel, bytes(exchange), bytes(routing_key),
                              mandatory ? 1 : 0, 0, properties.get(), bytes(body));
  s_->check_status(rc, "basic.publish");
}

std::optional<DeliverEvent> AmqpChannel::get(const std::string& queue) {
  State::Uncorked uncorked(*s_);
  amqp_rpc_reply_t r = amqp_basic_get(s_->conn, kChannel, bytes(queue), 1);
  s_->check_reply(r, "basic.get");
  if (r.reply.id == AMQP_BASIC_GET_EMPTY_METHOD)
    return std::nullopt;
  DeliverEvent ev = delivery_of(*static_cast<const amqp_basic_get_ok_t*>(r.reply.decoded));
  s_->read_content(ev.properties, ev.body);
  return ev;
}

void AmqpChannel::cork(bool on) {
  s_->set_cork(on);
}

bool AmqpChannel::holds_frames() const {
  return s_->own_frames;
}

void AmqpChannel::ack(std::uint64_t delivery_tag) {
  if (s_->own_frames) {
    amqp_basic_ack_t method{};
    method.delivery_tag = delivery_tag;
    return s_->hold_method(kUnconfirmedChannel, AMQP_BASIC_ACK_METHOD, &method);
  }
  auto armed = s_->bounded();
  s_->check_status(amqp_basic_ack(s_->conn, kUnconfirmedChannel, delivery_tag, 0), "basic.ack");
}

void AmqpChannel::reject(std::uint64_t delivery_tag, bool requeue) {
  if (s_->own_frames) {
    amqp_basic_reject_t method{};
    method.delivery_tag = delivery_tag;
    method.requeue = requeue ? 1 : 0;
    return s_->hold_method(kUnconfirmedChannel, AMQP_BASIC_REJECT_METHOD, &method);
  }
  auto armed = s_->bounded();
  s_->check_status(amqp_basic_reject(s_->conn, kUnconfirmedChannel, delivery_tag, requeue ? 1 : 0),
                   "basic.reject");
}

void AmqpChannel::send_heartbeat() {
  if (s_->own_frames) {
    s_->out.heartbeat();
    s_->added_frames();
    return;
  }
  amqp_frame_t frame{};
  frame.frame_type = AMQP_FRAME_HEARTBEAT;
  frame.channel = 0;
  auto armed = s_->bounded();
  s_->check_status(amqp_send_frame(s_->conn, &frame), "sending a heartbeat");
}

bool AmqpChannel::has_buffered() const {
  return amqp_frames_enqueued(s_->conn) != 0 || amqp_data_in_buffer(s_->conn) != 0;
}

std::optional<Event> AmqpChannel::poll_event() {
  for (;;) {
    amqp_frame_t frame;
    timeval immediate{0, 0};
    int rc = amqp_simple_wait_frame_noblock(s_->conn, &frame, &immediate);
    if (rc == AMQP_STATUS_TIMEOUT)
      return std::nullopt;
    s_->check_status(rc, "reading from the broker");
    if (frame.frame_type != AMQP_FRAME_METHOD)
      continue;  // stray content outside a message
    switch (frame.payload.method.id) {
      case AMQP_BASIC_DELIVER_METHOD: {
        const auto* d = static_cast<const amqp_basic_deliver_t*>(frame.payload.method.decoded);
        DeliverEvent ev = delivery_of(*d);
        ev.consumer_tag = str(d->consumer_tag);
        s_->read_content(ev.properties, ev.body);
        return ev;
      }
      case AMQP_BASIC_ACK_METHOD: {
        const auto* a = static_cast<const amqp_basic_ack_t*>(frame.payload.method.decoded);
        return ConfirmEvent{a->delivery_tag, a->multiple != 0, true};
      }
      case AMQP_BASIC_NACK_METHOD: {
        const auto* n = static_cast<const amqp_basic_nack_t*>(frame.payload.method.decoded);
        return ConfirmEvent{n->delivery_tag, n->multiple != 0, false};
      }
      case AMQP_BASIC_RETURN_METHOD: {
        const auto* r = static_cast<const amqp_basic_return_t*>(frame.payload.method.decoded);
        ReturnEvent ev;
        ev.reply_code = r->reply_code;
        ev.reply_text = str(r->reply_text);
        std::string body;
        s_->read_content(ev.properties, body);
        return ev;
      }
      case AMQP_BASIC_CANCEL_METHOD: {
        const auto* c = static_cast<const amqp_basic_cancel_t*>(frame.payload.method.decoded);
        return CancelEvent{str(c->consumer_tag)};
      }
      case AMQP_CHANNEL_CLOSE_METHOD:
      case AMQP_CONNECTION_CLOSE_METHOD: {
        amqp_rpc_reply_t r;
        r.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION;
        r.reply = frame.payload.method;
        r.library_error = 0;
        auto armed = s_->bounded();  // the close-ok it sends
        s_->check_reply(r, "connection", frame.channel);
        return std::nullopt;
      }
      default:
        continue;  // connection.blocked/unblocked and friends
    }
  }
}

void AmqpChannel::release_buffers() {
  amqp_maybe_release_buffers(s_->conn);
}

}  // namespace wonderland::messaging::detail
