// The mediator's configuration, read from the environment (README, "Configuration").
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "wonderland/common/secret_key.hpp"
#include "wonderland/mediator/throttle.hpp"

namespace wonderland::mediator {

struct Config {
  std::string http_address = "127.0.0.1";  ///< WONDERLAND_HTTP_ADDRESS
  std::uint16_t http_port = 8080;          ///< WONDERLAND_HTTP_PORT
  unsigned http_threads = 2;               ///< WONDERLAND_HTTP_THREADS
  /// WONDERLAND_ADMIN_TOKEN: operators send it as a bearer token. When unset it is read from
  /// WONDERLAND_ADMIN_TOKEN_FILE; when that is unset too, a random one is generated at start and
  /// written to `admin_token_file` (0600), whose path alone is logged.
  std::string admin_token;
  /// WONDERLAND_ADMIN_TOKEN_FILE; default: `admin-token` next to the journal.
  std::string admin_token_file;
  /// Whether admin_token_file was named by WONDERLAND_ADMIN_TOKEN_FILE (read it) or is the
  /// default (written with a generated token).
  bool admin_token_file_given = false;
  /// WONDERLAND_HTTP_MAX_CONNECTIONS: connections open at once (0: no limit).
  std::size_t http_max_connections = 1024;
  /// Sign-in, sign-up and order throttles (WONDERLAND_SIGNIN_*, WONDERLAND_SIGNUP_*,
  /// WONDERLAND_ORDERS_*, WONDERLAND_HTTP_TRUSTED_PROXIES).
  ThrottleConfig throttle;
  std::string journal_path = "var/mediator/journal.db";  ///< WONDERLAND_JOURNAL_PATH
  /// WONDERLAND_JOURNAL_URL: a `postgresql://` URL puts the journal in PostgreSQL, where several
  /// mediators share it (each workflow owned by one through a lease); empty: the SQLite file
  /// journal_path, for one mediator. The key files still live next to journal_path.
  std::string journal_url;
  /// WONDERLAND_JOURNAL_SCHEMA: the PostgreSQL schema of the journal's tables (created when
  /// missing); empty: the connection's search_path (normally `public`).
  std::string journal_schema;
  /// WONDERLAND_MEDIATOR_ID: this mediator's id in a shared journal (a UUID); default: a new one
  /// at every start. Two live mediators with one id are refused.
  std::string instance_id;
  /// WONDERLAND_JOURNAL_LEASE_MS: how long a mediator's claim on its workflows lasts without
  /// renewal (renewed every third of it); a dead mediator's workflows move on after about this.
  std::chrono::milliseconds journal_lease{3000};
  /// WONDERLAND_RETENTION_DAYS: finished workflows (completed, failed, cancelled) whose last
  /// status change is older than this leave the journal's hot tables for its archive, where they
  /// stay readable by id; 0 keeps everything hot. WONDERLAND_RETENTION_MS, when set, gives the
  /// age in milliseconds instead (tests).
  std::chrono::milliseconds retention_age{std::int64_t{30} * 24 * 3600 * 1000};
  /// WONDERLAND_RETENTION_INTERVAL_MS: how often the retention sweep runs.
  std::chrono::milliseconds retention_interval{60000};
  /// WONDERLAND_FINGERPRINT_KEY (64 hex digits): the secret of the orders' idempotency
  /// fingerprints (HMAC-SHA256 of the payment request). When unset the mediator reads it from
  /// `fingerprint_key_file` at start, creating that file (0600) with a random key when missing.
  std::shared_ptr<const SecretKey> fingerprint_key;
  /// WONDERLAND_FINGERPRINT_KEY_FILE; empty: `fingerprint.key` next to the journal.
  std::string fingerprint_key_file;
  std::string workflows_dir = "workflows";  ///< WONDERLAND_WORKFLOWS_DIR
  /// WONDERLAND_RETURN_PARCEL_TIMEOUT_MS: how long a return waits for its parcel before it is
  /// closed as expired (the `return` workflow's parcel_received signal step); 14 days.
  std::chrono::milliseconds return_parcel_timeout{std::int64_t{14} * 24 * 3600 * 1000};
  std::string web_dir = "web";  ///< WONDERLAND_WEB_DIR
  /// WONDERLAND_QUEUE_PREFIX: prepended to every service command queue (tests).
  std::string queue_prefix;
  /// WONDERLAND_RPC_TIMEOUT_MS: timeout of the API's own calls to services.
  std::chrono::milliseconds rpc_timeout{5000};
  /// WONDERLAND_AUTH_CACHE_MS: how long a verified customer token is trusted without asking the
  /// customer service again (0 disables the cache). Sign-out through this mediator evicts it.
  std::chrono::milliseconds auth_cache_ttl{5000};
  /// WONDERLAND_CATALOGUE_CACHE_MS: how long a catalogue answer (a page of books, one book) is
  /// served from memory (0 disables). This mediator's own stock changes empty it at once.
  std::chrono::milliseconds catalogue_cache_ttl{1000};
  /// WONDERLAND_COMMAND_DELIVERY: `transient` (default) or `persistent` workflow task commands
  /// (see TransportOptions::command_delivery).
  bool persistent_commands = false;
  /// WONDERLAND_COMPENSATION_MAX_ATTEMPTS: attempts of one compensation (every error is retried)
  /// before its workflow is marked needs_attention.
  int compensation_max_attempts = 50;
  /// WONDERLAND_COMPENSATION_BACKOFF_MS: the delay after a compensation's first failure; it
  /// doubles (with 20% jitter) after each further failure, up to
  /// WONDERLAND_COMPENSATION_MAX_BACKOFF_MS.
  std::chrono::milliseconds compensation_backoff{200};
  std::chrono::milliseconds compensation_max_backoff{60000};
  /// WONDERLAND_READYZ_REQUIRE_CONSUMERS: GET /readyz answers 200 only once every command queue
  /// the loaded workflows send tasks to has a consumer (checked every second). Off: the broker
  /// connection and the engine alone decide, as for a mediator run without its services.
  bool readyz_require_consumers = true;

  static Config from_env();
};

}  // namespace wonderland::mediator
