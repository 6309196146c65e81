// Opening the socket of a broker connection, over TCP or TLS.
#include "detail/amqp_socket.hpp"

#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <signal.h>

#include "detail/amqp_codec.hpp"

namespace wonderland::messaging::detail {

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

namespace {

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

void open_socket(amqp_connection_state_t conn, const UrlParts& url, const TlsOptions& tls,
                 std::chrono::milliseconds timeout, std::string* tls_failure) {
  amqp_socket_t* socket = nullptr;
  if (url.tls) {
    // OpenSSL writes with write(), not send(MSG_NOSIGNAL): a broker that went away would raise
    // SIGPIPE and end the process. Blocked in this thread (the session's I/O thread, the only one
    // that touches the channel), the write fails with EPIPE instead and the session reconnects.
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    socket = new_tls_socket(conn, url, tls, tls_failure);
  } else {
    socket = amqp_tcp_socket_new(conn);
    if (socket == nullptr)
      throw AmqpError("cannot create a TCP socket");
  }
  timeval tv = to_timeval(timeout);
  ERR_clear_error();
  int rc = amqp_socket_open_noblock(socket, url.host.c_str(), url.port, &tv);
  if (rc != AMQP_STATUS_OK) {
    std::string where = url.host + ":" + std::to_string(url.port);
    if (url.tls && !tls_failure->empty()) {
      throw AmqpError("TLS handshake with " + where +
                      " failed: the broker's certificate is refused: " + *tls_failure);
    }
    if (url.tls && (rc == AMQP_STATUS_SSL_CONNECTION_FAILED || rc == AMQP_STATUS_SSL_ERROR)) {
      throw AmqpError("TLS handshake with " + where + " failed: " + amqp_error_string2(rc) + ": " +
                      openssl_errors());
    }
    throw AmqpError("cannot connect to " + where + ": " + amqp_error_string2(rc));
  }
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

}  // namespace wonderland::messaging::detail
