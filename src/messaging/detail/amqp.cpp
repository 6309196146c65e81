#include "detail/amqp.hpp"

#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cstring>
#include <string_view>

namespace wonderland::messaging::detail {
namespace {

constexpr amqp_channel_t kChannel = 1;

amqp_bytes_t bytes(const std::string& s) {
  amqp_bytes_t b;
  b.len = s.size();
  b.bytes = const_cast<char*>(s.data());
  return b;
}

std::string str(amqp_bytes_t b) {
  return b.len == 0 ? std::string() : std::string(static_cast<const char*>(b.bytes), b.len);
}

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

std::string_view exchange_type_name(ExchangeType t) {
  switch (t) {
    case ExchangeType::kDirect:
      return "direct";
    case ExchangeType::kTopic:
      return "topic";
    case ExchangeType::kFanout:
      return "fanout";
    case ExchangeType::kHeaders:
      return "headers";
  }
  return "direct";
}

/// Builds an AMQP field table; owns the storage the C structs point into.
class TableBuilder {
 public:
  void add_string(std::string key, std::string value) {
    keys_.push_back(std::move(key));
    strings_.push_back(std::move(value));
    kinds_.push_back({Kind::kString, strings_.size() - 1, 0});
  }
  void add_int(std::string key, std::int64_t value) {
    keys_.push_back(std::move(key));
    kinds_.push_back({Kind::kInt, 0, value});
  }
  amqp_table_t table() {
    entries_.resize(keys_.size());
    for (std::size_t i = 0; i < keys_.size(); ++i) {
      entries_[i].key = bytes(keys_[i]);
      if (kinds_[i].kind == Kind::kString) {
        entries_[i].value.kind = AMQP_FIELD_KIND_UTF8;
        entries_[i].value.value.bytes = bytes(strings_[kinds_[i].string_index]);
      } else {
        entries_[i].value.kind = AMQP_FIELD_KIND_I64;
        entries_[i].value.value.i64 = kinds_[i].int_value;
      }
    }
    amqp_table_t t;
    t.num_entries = static_cast<int>(entries_.size());
    t.entries = entries_.empty() ? nullptr : entries_.data();
    return t;
  }
  bool empty() const { return keys_.empty(); }

 private:
  enum class Kind { kString, kInt };
  struct Entry {
    Kind kind;
    std::size_t string_index;
    std::int64_t int_value;
  };
  std::vector<std::string> keys_;
  std::vector<std::string> strings_;
  std::vector<Entry> kinds_;
  std::vector<amqp_table_entry_t> entries_;
};

void read_headers(const amqp_table_t& t, Properties& p) {
  for (int i = 0; i < t.num_entries; ++i) {
    const amqp_table_entry_t& e = t.entries[i];
    std::string key = str(e.key);
    switch (e.value.kind) {
      case AMQP_FIELD_KIND_I8:
        p.int_headers.emplace_back(key, e.value.value.i8);
        break;
      case AMQP_FIELD_KIND_U8:
        p.int_headers.emplace_back(key, e.value.value.u8);
        break;
      case AMQP_FIELD_KIND_I16:
        p.int_headers.emplace_back(key, e.value.value.i16);
        break;
      case AMQP_FIELD_KIND_U16:
        p.int_headers.emplace_back(key, e.value.value.u16);
        break;
      case AMQP_FIELD_KIND_I32:
        p.int_headers.emplace_back(key, e.value.value.i32);
        break;
      case AMQP_FIELD_KIND_U32:
        p.int_headers.emplace_back(key, e.value.value.u32);
        break;
      case AMQP_FIELD_KIND_I64:
        p.int_headers.emplace_back(key, e.value.value.i64);
        break;
      case AMQP_FIELD_KIND_U64:
        p.int_headers.emplace_back(key, static_cast<std::int64_t>(e.value.value.u64));
        break;
      case AMQP_FIELD_KIND_UTF8:
      case AMQP_FIELD_KIND_BYTES:
        p.string_headers.emplace_back(key, str(e.value.value.bytes));
        break;
      default:
        break;  // x-death and other structured headers are not used by Wonderland
    }
  }
}

Properties read_properties(const amqp_basic_properties_t* bp) {
  Properties p;
  if (bp == nullptr) return p;
  if (bp->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) p.message_id = str(bp->message_id);
  if (bp->_flags & AMQP_BASIC_TYPE_FLAG) p.type = str(bp->type);
  if (bp->_flags & AMQP_BASIC_CORRELATION_ID_FLAG) p.correlation_id = str(bp->correlation_id);
  if (bp->_flags & AMQP_BASIC_REPLY_TO_FLAG) p.reply_to = str(bp->reply_to);
  if (bp->_flags & AMQP_BASIC_APP_ID_FLAG) p.app_id = str(bp->app_id);
  if (bp->_flags & AMQP_BASIC_DELIVERY_MODE_FLAG) p.persistent = bp->delivery_mode == 2;
  if (bp->_flags & AMQP_BASIC_EXPIRATION_FLAG) p.expiration = str(bp->expiration);
  if (bp->_flags & AMQP_BASIC_HEADERS_FLAG) read_headers(bp->headers, p);
  return p;
}

}  // namespace

std::optional<std::int64_t> Properties::int_header(const std::string& key) const {
  for (const auto& [k, v] : int_headers) {
    if (k == key) return v;
  }
  return std::nullopt;
}

UrlParts parse_amqp_url(const std::string& url) {
  std::string copy = url;
  amqp_connection_info info;
  amqp_default_connection_info(&info);
  if (amqp_parse_url(copy.data(), &info) != AMQP_STATUS_OK) {
    throw std::invalid_argument("not an amqp:// or amqps:// URL: '" + url + "'");
  }
  UrlParts u;
  u.tls = info.ssl != 0;
  u.host = info.host;
  u.port = info.port;
  u.user = info.user;
  u.password = info.password;
  // `amqp://host/` names the empty vhost by the letter of the URI spec; everyone means "/".
  u.vhost = (info.vhost == nullptr || *info.vhost == '\0') ? "/" : info.vhost;
  return u;
}

struct AmqpChannel::State {
  amqp_connection_state_t conn = nullptr;
  int heartbeat_s = 0;
  std::chrono::milliseconds timeout{5000};
  bool corked = false;
  /// Why the broker's certificate was refused, filled during the TLS handshake.
  std::string tls_failure;

  void set_cork(bool on) {
    if (corked == on) return;
    corked = on;
    int fd = amqp_get_sockfd(conn);
    int value = on ? 1 : 0;
    // Best effort: without it, frames only leave in more segments.
    if (fd >= 0) ::setsockopt(fd, IPPROTO_TCP, TCP_CORK, &value, sizeof value);
  }

  /// Around a synchronous method: sends what the cork holds back before waiting for the broker's
  /// answer, and corks again afterwards.
  struct Uncorked {
    State& s;
    bool was;
    explicit Uncorked(State& state) : s(state), was(state.corked) { s.set_cork(false); }
    ~Uncorked() {
      if (was) s.set_cork(true);
    }
    Uncorked(const Uncorked&) = delete;
    Uncorked& operator=(const Uncorked&) = delete;
  };

  ~State() {
    if (conn != nullptr) amqp_destroy_connection(conn);
  }

  /// Checks the reply of the last synchronous call; throws AmqpError on failure.
  void check(const char* what) {
    amqp_rpc_reply_t r = amqp_get_rpc_reply(conn);
    check_reply(r, what);
  }

  void check_reply(const amqp_rpc_reply_t& r, const char* what) {
    switch (r.reply_type) {
      case AMQP_RESPONSE_NORMAL:
        return;
      case AMQP_RESPONSE_NONE:
        throw AmqpError(std::string(what) + ": no reply from the broker");
      case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        throw AmqpError(std::string(what) + ": " + amqp_error_string2(r.library_error));
      case AMQP_RESPONSE_SERVER_EXCEPTION:
        if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
          const auto* m = static_cast<const amqp_connection_close_t*>(r.reply.decoded);
          std::string text = str(m->reply_text);
          amqp_connection_close_ok_t ok{};
          amqp_send_method(conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
          throw AmqpError(std::string(what) + ": broker closed the connection: " +
                              std::to_string(m->reply_code) + " " + text,
                          true, m->reply_code);
        }
        if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
          const auto* m = static_cast<const amqp_channel_close_t*>(r.reply.decoded);
          std::string text = str(m->reply_text);
          amqp_channel_close_ok_t ok{};
          amqp_send_method(conn, kChannel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
          throw AmqpError(
              std::string(what) + ": broker refused: " + std::to_string(m->reply_code) + " " + text,
              true, m->reply_code);
        }
        throw AmqpError(std::string(what) + ": unexpected broker reply");
    }
    throw AmqpError(std::string(what) + ": unknown reply type");
  }

  void check_status(int status, const char* what) {
    if (status != AMQP_STATUS_OK) {
      throw AmqpError(std::string(what) + ": " + amqp_error_string2(status));
    }
  }

  /// Reads the header and body frames that follow a basic.deliver or basic.return.
  void read_content(Properties& props, std::string& body) {
    amqp_frame_t frame;
    timeval tv = to_timeval(timeout);
    check_status(amqp_simple_wait_frame_noblock(conn, &frame, &tv), "reading message header");
    if (frame.frame_type != AMQP_FRAME_HEADER) throw AmqpError("expected a content header frame");
    props = read_properties(static_cast<const amqp_basic_properties_t*>(frame.payload.properties.decoded));
    auto size = static_cast<std::size_t>(frame.payload.properties.body_size);
    body.clear();
    body.reserve(size);
    while (body.size() < size) {
      tv = to_timeval(timeout);
      check_status(amqp_simple_wait_frame_noblock(conn, &frame, &tv), "reading message body");
      if (frame.frame_type != AMQP_FRAME_BODY) throw AmqpError("expected a content body frame");
      body.append(static_cast<const char*>(frame.payload.body_fragment.bytes),
                  frame.payload.body_fragment.len);
    }
  }
};

namespace {

/// The OpenSSL errors queued on this thread, oldest first (and clears the queue).
std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty())
      out += "; ";
    out += buf;
  }
  return out.empty() ? "no detail from OpenSSL" : out;
}

/// Verification callback: keeps the first reason the broker's certificate was refused, which the
/// failed handshake itself does not tell.
int record_verify_failure(int preverify_ok, X509_STORE_CTX* store) {
  if (preverify_ok == 1)
    return 1;
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* failure = ssl != nullptr
                      ? static_cast<std::string*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)))
                      : nullptr;
  if (failure != nullptr && failure->empty()) {
    *failure = X509_verify_cert_error_string(X509_STORE_CTX_get_error(store));
    if (X509* cert = X509_STORE_CTX_get_current_cert(store)) {
      char name[256];
      X509_NAME_oneline(X509_get_subject_name(cert), name, sizeof name);
      *failure += std::string(" (certificate ") + name + ")";
    }
  }
  return 0;
}

/// Encrypted private keys are not supported: fail instead of prompting on the terminal.
int no_key_password(char*, int, int, void*) {
  return 0;
}

/// Creates the TLS socket of `conn` (owned by it, like the OpenSSL context inside) and applies
/// `tls`. With verification on, the handshake itself checks the chain against the CA file (or
/// the system's trust store) and the host name or IP address of the URL against the certificate.
amqp_socket_t* new_tls_socket(amqp_connection_state_t conn, const UrlParts& url,
                              const TlsOptions& tls, std::string* failure) {
  ERR_clear_error();
  amqp_socket_t* socket = amqp_ssl_socket_new(conn);
  if (socket == nullptr)
    throw AmqpError("cannot create a TLS socket: " + openssl_errors());
  auto* ctx = static_cast<SSL_CTX*>(amqp_ssl_socket_get_context(socket));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_default_passwd_cb(ctx, no_key_password);
  // rabbitmq-c's own host name check knows DNS names only; OpenSSL's (below) knows IP addresses.
  amqp_ssl_socket_set_verify_hostname(socket, 0);
  if (!tls.verify) {
    amqp_ssl_socket_set_verify_peer(socket, 0);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  } else {
    amqp_ssl_socket_set_verify_peer(socket, 1);
    if (!tls.ca_cert_file.empty()) {
      if (amqp_ssl_socket_set_cacert(socket, tls.ca_cert_file.c_str()) != AMQP_STATUS_OK) {
        throw AmqpError("cannot read CA certificates from '" + tls.ca_cert_file +
                        "': " + openssl_errors());
      }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      throw AmqpError("cannot load the system's CA certificates: " + openssl_errors());
    }
    X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
    in6_addr addr{};
    bool is_ip = ::inet_pton(AF_INET, url.host.c_str(), &addr) == 1 ||
                 ::inet_pton(AF_INET6, url.host.c_str(), &addr) == 1;
    int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, url.host.c_str())
                   : X509_VERIFY_PARAM_set1_host(param, url.host.c_str(), url.host.size());
    if (ok != 1)
      throw AmqpError("cannot check the broker's certificate against '" + url.host + "'");
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    SSL_CTX_set_app_data(ctx, failure);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, record_verify_failure);
  }
  if (!tls.cert_file.empty() || !tls.key_file.empty()) {
    if (amqp_ssl_socket_set_key(socket, tls.cert_file.c_str(), tls.key_file.c_str()) !=
        AMQP_STATUS_OK) {
      throw AmqpError("cannot use the client certificate '" + tls.cert_file + "' with the key '" +
                      tls.key_file + "': " + openssl_errors());
    }
  }
  return socket;
}

}  // namespace

AmqpChannel::AmqpChannel(const UrlParts& url, const TlsOptions& tls,
                         const std::string& connection_name, int heartbeat_s,
                         std::chrono::milliseconds timeout)
    : s_(std::make_unique<State>()) {
  s_->timeout = timeout;
  s_->conn = amqp_new_connection();
  if (s_->conn == nullptr)
    throw AmqpError("out of memory creating a connection");
  amqp_socket_t* socket = nullptr;
  if (url.tls) {
    // OpenSSL writes with write(), not send(MSG_NOSIGNAL): a broker that went away would raise
    // SIGPIPE and end the process. Blocked in this thread (the engine's I/O thread, the only one
    // that touches the channel), the write fails with EPIPE instead and the engine reconnects.
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    socket = new_tls_socket(s_->conn, url, tls, &s_->tls_failure);
  } else {
    socket = amqp_tcp_socket_new(s_->conn);
    if (socket == nullptr)
      throw AmqpError("cannot create a TCP socket");
  }
  timeval tv = to_timeval(timeout);
  ERR_clear_error();
  int rc = amqp_socket_open_noblock(socket, url.host.c_str(), url.port, &tv);
  if (rc != AMQP_STATUS_OK) {
    std::string where = url.host + ":" + std::to_string(url.port);
    if (url.tls && !s_->tls_failure.empty()) {
      throw AmqpError("TLS handshake with " + where +
                      " failed: the broker's certificate is refused: " + s_->tls_failure);
    }
    if (url.tls && (rc == AMQP_STATUS_SSL_CONNECTION_FAILED || rc == AMQP_STATUS_SSL_ERROR)) {
      throw AmqpError("TLS handshake with " + where + " failed: " + amqp_error_string2(rc) + ": " +
                      openssl_errors());
    }
    throw AmqpError("cannot connect to " + where + ": " + amqp_error_string2(rc));
  }
  if (url.tls && !tls.verify) {
    spdlog::warn(
        "connected to the broker at {}:{} over TLS WITHOUT verifying its certificate "
        "(WONDERLAND_AMQP_TLS_VERIFY=0): for tests and development only",
        url.host, url.port);
  }
  amqp_set_handshake_timeout(s_->conn, &tv);
  amqp_set_rpc_timeout(s_->conn, &tv);

  TableBuilder client_properties;
  client_properties.add_string("connection_name", connection_name);
  amqp_table_t props = client_properties.table();
  amqp_rpc_reply_t r =
      amqp_login_with_properties(s_->conn, url.vhost.c_str(), 0, 131072, heartbeat_s, &props,
                                 AMQP_SASL_METHOD_PLAIN, url.user.c_str(), url.password.c_str());
  if (url.tls && r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
    // The broker checks a client certificate after the handshake: its refusal arrives here.
    throw AmqpError("login over TLS to " + url.host + ":" + std::to_string(url.port) + ": " +
                    amqp_error_string2(r.library_error) + ": " + openssl_errors());
  }
  s_->check_reply(r, "login");
  s_->heartbeat_s = amqp_get_heartbeat(s_->conn);
  amqp_channel_open(s_->conn, kChannel);
  s_->check("channel.open");
}

AmqpChannel::~AmqpChannel() {
  // Best effort: a polite close when the socket still works; destroying frees everything.
  if (s_->conn != nullptr && amqp_get_socket(s_->conn) != nullptr && fd() >= 0) {
    s_->set_cork(false);
    timeval tv{1, 0};
    amqp_set_rpc_timeout(s_->conn, &tv);
    amqp_connection_close(s_->conn, AMQP_REPLY_SUCCESS);
  }
}

int AmqpChannel::fd() const { return amqp_get_sockfd(s_->conn); }
int AmqpChannel::heartbeat_s() const { return s_->heartbeat_s; }

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
  amqp_queue_declare(s_->conn, kChannel, bytes(spec.name.str()), spec.passive ? 1 : 0,
                     spec.durable ? 1 : 0, spec.exclusive ? 1 : 0, spec.auto_delete ? 1 : 0,
                     spec.passive ? amqp_empty_table : args.table());
  s_->check("queue.declare");
}

std::uint64_t AmqpChannel::message_count(const QueueName& queue) {
  State::Uncorked uncorked(*s_);
  amqp_queue_declare_ok_t* ok =
      amqp_queue_declare(s_->conn, kChannel, bytes(queue.str()), 1, 0, 0, 0, amqp_empty_table);
  s_->check("queue.declare (passive)");
  return ok == nullptr ? 0 : ok->message_count;
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
  amqp_basic_qos(s_->conn, kChannel, 0, prefetch, 0);
  s_->check("basic.qos");
}

void AmqpChannel::confirm_select() {
  State::Uncorked uncorked(*s_);
  amqp_confirm_select(s_->conn, kChannel);
  s_->check("confirm.select");
}

std::string AmqpChannel::consume(const std::string& queue, bool no_ack) {
  State::Uncorked uncorked(*s_);
  amqp_basic_consume_ok_t* ok = amqp_basic_consume(s_->conn, kChannel, bytes(queue), amqp_empty_bytes,
                                                   0, no_ack ? 1 : 0, 0, amqp_empty_table);
  s_->check("basic.consume");
  return str(ok->consumer_tag);
}

void AmqpChannel::cancel(const std::string& consumer_tag) {
  State::Uncorked uncorked(*s_);
  amqp_basic_cancel(s_->conn, kChannel, bytes(consumer_tag));
  s_->check("basic.cancel");
}

void AmqpChannel::publish(const std::string& exchange, const std::string& routing_key,
                          bool mandatory, const Properties& p, const std::string& body) {
  amqp_basic_properties_t bp;
  std::memset(&bp, 0, sizeof bp);
  static const std::string kJson = "application/json";
  bp._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
  bp.content_type = bytes(kJson);
  bp.delivery_mode = p.persistent ? 2 : 1;
  if (!p.message_id.empty()) {
    bp._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
    bp.message_id = bytes(p.message_id);
  }
  if (!p.type.empty()) {
    bp._flags |= AMQP_BASIC_TYPE_FLAG;
    bp.type = bytes(p.type);
  }
  if (!p.correlation_id.empty()) {
    bp._flags |= AMQP_BASIC_CORRELATION_ID_FLAG;
    bp.correlation_id = bytes(p.correlation_id);
  }
  if (!p.reply_to.empty()) {
    bp._flags |= AMQP_BASIC_REPLY_TO_FLAG;
    bp.reply_to = bytes(p.reply_to);
  }
  if (!p.app_id.empty()) {
    bp._flags |= AMQP_BASIC_APP_ID_FLAG;
    bp.app_id = bytes(p.app_id);
  }
  if (!p.expiration.empty()) {
    bp._flags |= AMQP_BASIC_EXPIRATION_FLAG;
    bp.expiration = bytes(p.expiration);
  }
  TableBuilder headers;
  for (const auto& [k, v] : p.int_headers) headers.add_int(k, v);
  for (const auto& [k, v] : p.string_headers) headers.add_string(k, v);
  if (!headers.empty()) {
    bp._flags |= AMQP_BASIC_HEADERS_FLAG;
    bp.headers = headers.table();
  }
  int rc = amqp_basic_publish(s_->conn, kChannel, bytes(exchange), bytes(routing_key),
                              mandatory ? 1 : 0, 0, &bp, bytes(body));
  s_->check_status(rc, "basic.publish");
}

std::optional<DeliverEvent> AmqpChannel::get(const std::string& queue) {
  State::Uncorked uncorked(*s_);
  amqp_rpc_reply_t r = amqp_basic_get(s_->conn, kChannel, bytes(queue), 1);
  s_->check_reply(r, "basic.get");
  if (r.reply.id == AMQP_BASIC_GET_EMPTY_METHOD) return std::nullopt;
  const auto* ok = static_cast<const amqp_basic_get_ok_t*>(r.reply.decoded);
  DeliverEvent ev;
  ev.delivery_tag = ok->delivery_tag;
  ev.redelivered = ok->redelivered != 0;
  ev.exchange = str(ok->exchange);
  ev.routing_key = str(ok->routing_key);
  s_->read_content(ev.properties, ev.body);
  return ev;
}

void AmqpChannel::cork(bool on) { s_->set_cork(on); }

void AmqpChannel::ack(std::uint64_t delivery_tag) {
  s_->check_status(amqp_basic_ack(s_->conn, kChannel, delivery_tag, 0), "basic.ack");
}

void AmqpChannel::reject(std::uint64_t delivery_tag, bool requeue) {
  s_->check_status(amqp_basic_reject(s_->conn, kChannel, delivery_tag, requeue ? 1 : 0),
                   "basic.reject");
}

bool AmqpChannel::has_buffered() const {
  return amqp_frames_enqueued(s_->conn) != 0 || amqp_data_in_buffer(s_->conn) != 0;
}

std::optional<Event> AmqpChannel::poll_event() {
  for (;;) {
    amqp_frame_t frame;
    timeval immediate{0, 0};
    int rc = amqp_simple_wait_frame_noblock(s_->conn, &frame, &immediate);
    if (rc == AMQP_STATUS_TIMEOUT) return std::nullopt;
    s_->check_status(rc, "reading from the broker");
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;  // stray content outside a message
    switch (frame.payload.method.id) {
      case AMQP_BASIC_DELIVER_METHOD: {
        const auto* d = static_cast<const amqp_basic_deliver_t*>(frame.payload.method.decoded);
        DeliverEvent ev;
        ev.consumer_tag = str(d->consumer_tag);
        ev.delivery_tag = d->delivery_tag;
        ev.redelivered = d->redelivered != 0;
        ev.exchange = str(d->exchange);
        ev.routing_key = str(d->routing_key);
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
        s_->check_reply(r, "connection");
        return std::nullopt;
      }
      default:
        continue;  // connection.blocked/unblocked and friends
    }
  }
}

void AmqpChannel::release_buffers() { amqp_maybe_release_buffers(s_->conn); }

}  // namespace wonderland::messaging::detail
