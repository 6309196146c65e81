// Opening the socket of a broker connection: plain TCP, or TLS with the broker's certificate
// checked against the CA file (or the system's trust store) and the URL's host. Also parses the
// amqp:// URL. For the files of src/messaging/detail that talk to rabbitmq-c.
#pragma once

#include <amqp.h>

#include <chrono>
#include <string>

#include "detail/amqp.hpp"

namespace wonderland::messaging::detail {

/// Opens the socket of `conn` (owned by it) to `url`, over TLS with `tls` when url.tls; throws
/// AmqpError naming the cause (refused connection, failed certificate check). `tls_failure`
/// receives why the broker's certificate was refused; it must live as long as `conn`.
void open_socket(amqp_connection_state_t conn, const UrlParts& url, const TlsOptions& tls,
                 std::chrono::milliseconds timeout, std::string* tls_failure);

/// The OpenSSL errors queued on this thread, oldest first (and clears the queue).
std::string openssl_errors();

}  // namespace wonderland::messaging::detail
