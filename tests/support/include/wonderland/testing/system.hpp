// The whole Wonderland system as child processes, for end-to-end and browser tests: the real
// binaries (logging, inventory, customer, payment, notification, then the mediator) against the
// harness's RabbitMQ (or the broker or cluster of SystemOptions::amqp_url) and PostgreSQL.
//
//   wonderland::testing::System system({.work_dir = WORK_DIR, .catalogue = books,
//                                       .admin_token = "test-token"});
//   system.start();                      // throws std::runtime_error, with what failed
//   HttpClient http(system.port());
//   ...
//   system.stop();                       // also on destruction
//
// Isolation: every queue of the run carries a prefix of its own (WONDERLAND_QUEUE_PREFIX for the
// mediator and the logging service, WONDERLAND_<SERVICE>_QUEUE for the other services), the
// customer tables live in a schema of their own, and the databases, journal, email outbox, logs
// and log store in a fresh folder `<work_dir>/run-<hex>` (remove_files() deletes it). stop()
// deletes the run's queues. The exchanges are shared: the run's logging service also stores
// what other systems on the broker log.
//
// With `mediators` > 1, that many mediators ("mediator-1", "mediator-2"...) share a journal in a
// PostgreSQL schema of the run's own, each on a port of its own, behind HAProxy ("haproxy", found
// on PATH or in /usr/sbin) on port(): round robin, health check on /readyz.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "wonderland/common/error.hpp"
#include "wonderland/testing/ports.hpp"
#include "wonderland/testing/postgres.hpp"
#include "wonderland/testing/process.hpp"

namespace wonderland::testing {

/// One title of the inventory's seed catalogue.
struct CatalogueBook {
  std::string isbn;
  std::string title;
  std::int64_t price_cents = 0;
  std::int64_t stock = 0;
  std::string author = "Test Author";
  std::string publisher = "Test Press";
};

struct SystemOptions {
  /// The run's folder goes inside (created when missing).
  std::filesystem::path work_dir;
  /// The inventory's seed.
  std::vector<CatalogueBook> catalogue;
  /// WONDERLAND_ADMIN_TOKEN of the mediator.
  std::string admin_token = "test-operator-token";
  /// What the mediator serves as WONDERLAND_WEB_DIR; empty: a one-line placeholder page.
  std::filesystem::path web_dir;
  /// Start of the queue prefix and of the customer schema's name (lower case, digits, '_').
  std::string tag = "e2e";
  /// Extra or overriding environment per service ("mediator", "payment", ...); "mediator" applies
  /// to every mediator.
  std::map<std::string, std::map<std::string, std::string>> env;
  /// How many mediators: 1 is the SQLite journal, served on port() directly; more share a
  /// PostgreSQL journal (WONDERLAND_JOURNAL_LEASE_MS 1000 unless `env` says otherwise) behind
  /// HAProxy.
  int mediators = 1;
  /// WONDERLAND_AMQP_URL of every process and of the harness's own connection (RPC probes, queue
  /// clean-up); empty: the harness's broker (amqp_url()). A comma-separated list names the nodes
  /// of a cluster (see PrivateCluster::urls()).
  std::string amqp_url;
  /// WONDERLAND_AMQP_QUEUE_TYPE of every process ("quorum" on a cluster); empty: not set.
  std::string amqp_queue_type;
};

class System {
 public:
  explicit System(SystemOptions options);
  ~System();  ///< stop()
  System(const System&) = delete;
  System& operator=(const System&) = delete;

  /// Starts every process and waits until each answers (services on their queue, the mediator on
  /// /readyz and /api/books). Throws std::runtime_error naming what did not come up.
  void start();
  /// Stops the mediator, then the services, and deletes the run's queues. Idempotent.
  void stop();
  /// Deletes the run's folder (databases, journal, outbox, logs).
  void remove_files();

  int port() const { return port_; }
  /// "http://127.0.0.1:<port>"
  std::string base_url() const;
  const std::string& admin_token() const { return options_.admin_token; }
  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path outbox() const { return dir_ / "outbox"; }
  /// The PostgreSQL schema of the run's customer service (empty before start()).
  std::string customer_schema() const { return schema_ ? schema_->name() : std::string(); }
  /// The run's command queue of `service` ("<prefix><service>.commands"; the logging service
  /// answers queries on "<prefix>logging.query").
  std::string queue(const std::string& service) const;
  /// Every queue of the run: the services' command queues, the notification events and the
  /// logging service's records and workflow queues (each may have a "<queue>.dead" companion).
  std::vector<std::string> queues() const;

  ChildProcess& process(const std::string& name);
  /// The mediators' process names: {"mediator"}, or "mediator-1"... with several.
  std::vector<std::string> mediator_names() const;
  /// The port a mediator (by process name) listens on itself (port() with one mediator).
  int mediator_port(const std::string& name) const;
  /// The WONDERLAND_MEDIATOR_ID of a mediator (by process name); empty with one mediator.
  std::string mediator_id(const std::string& name) const;
  /// Stops a service (SIGKILL when `crash`, else SIGTERM), leaves it down for `down_for` (its
  /// commands wait in its queue), starts it again and waits until it answers.
  void restart(const std::string& name, bool crash,
               std::chrono::milliseconds down_for = std::chrono::milliseconds(0));

  /// Where the run is, and the last lines of every process's log (for failure messages).
  std::string diagnostics() const;

  /// Calls a service's command directly, as the mediator would.
  Result<nlohmann::json> rpc(const std::string& service, const std::string& type,
                             const nlohmann::json& body,
                             std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// payment.get for an order: {order_id, charged_cents, refunded_cents, entries}; throws.
  nlohmann::json ledger(const std::string& order_id);

 private:
  struct Broker;
  using Environment = std::map<std::string, std::string>;

  /// Creates the run's folder, its outbox, the placeholder web page (when no web_dir is given)
  /// and the catalogue; returns the folder the mediator serves.
  std::filesystem::path prepare_run_folder() const;
  void write_catalogue() const;
  /// `own` with the test's overrides for `name` (SystemOptions::env), then `common`.
  Environment environment(const std::string& name, Environment own,
                          const Environment& common) const;
  void add_services(const Environment& common);
  void add_mediator(const Environment& common, const std::filesystem::path& web);
  /// Starts the services, waits until each answers, then starts the mediator and waits for it.
  void start_processes();
  /// `program`: empty for the service's own binary.
  void add(const std::string& name, Environment env, std::string program = {},
           std::vector<std::string> args = {});
  void await_service(const std::string& name, std::chrono::milliseconds timeout);
  /// Waits until the mediator `name` (or, for "haproxy", the balancer) answers /readyz and
  /// /api/books.
  void await_mediator(const std::string& name, std::chrono::milliseconds timeout);
  /// The balancer of several mediators: writes its configuration and adds its process.
  void add_balancer();

  SystemOptions options_;
  std::string prefix_;
  std::filesystem::path dir_;
  // Every HTTP port of the system (the balancer's or the one mediator's, then each mediator's),
  // held for its whole life, also while a test has killed what listens on it.
  std::vector<PortReservation> ports_;
  int port_;
  std::unique_ptr<ScopedSchema> schema_;          // made by start(): it needs the database
  std::unique_ptr<ScopedSchema> journal_schema_;  // several mediators only
  std::map<std::string, int> mediator_ports_;     // process name -> its own port
  std::map<std::string, std::string> mediator_ids_;
  std::map<std::string, std::unique_ptr<ChildProcess>> processes_;
  std::unique_ptr<Broker> broker_;
  bool stopped_ = false;
};

}  // namespace wonderland::testing
