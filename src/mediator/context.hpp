// What the mediator's HTTP handlers share: the engine, the RPC client and authentication.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "wonderland/http/request.hpp"
#include "wonderland/http/responder.hpp"
#include "wonderland/http/router.hpp"
#include "wonderland/mediator/amqp_transport.hpp"
#include "wonderland/mediator/catalogue_cache.hpp"
#include "wonderland/mediator/config.hpp"
#include "wonderland/mediator/metrics.hpp"
#include "wonderland/mediator/readiness.hpp"
#include "wonderland/mediator/settle_waiters.hpp"
#include "wonderland/mediator/throttle.hpp"
#include "wonderland/messaging/rpc.hpp"
#include "wonderland/workflow/definition.hpp"
#include "wonderland/workflow/engine.hpp"
#include "wonderland/workflow_pg/pg_journal.hpp"

namespace wonderland::mediator {

using Json = nlohmann::json;
class OwnerRequests;
class BulkActions;
using JsonCallback = std::function<void(Result<Json>)>;

/// Verified customer tokens, kept for a short time so that every request does not cost an RPC.
class AuthCache {
 public:
  explicit AuthCache(std::chrono::milliseconds ttl) : ttl_(ttl) {}
  std::optional<Json> find(const std::string& token);
  void put(const std::string& token, Json profile);
  void evict(const std::string& token);

 private:
  std::chrono::milliseconds ttl_;
  std::mutex mu_;
  struct Entry {
    Json profile;
    std::chrono::steady_clock::time_point expires;
  };
  std::unordered_map<std::string, Entry> entries_;
};

struct Context {
  Config config;
  messaging::Connection& connection;
  messaging::RpcClient rpc;
  workflow::Engine& engine;
  const workflow::DefinitionRegistry& registry;
  const AmqpTransport& transport;
  const StepHistograms& steps;
  /// The definition documents as loaded, by name and version (for diagrams).
  std::map<std::pair<std::string, int>, Json> definition_documents;
  /// Fans the live log feed out to server-sent event streams.
  std::shared_ptr<class LogHub> log_hub;
  /// The journal, SQLite or PostgreSQL, for its stats (owned by the mediator).
  const workflow::Journal* journal = nullptr;
  /// The PostgreSQL journal when several mediators share it; null with SQLite.
  workflow::PgJournal* shared_journal = nullptr;
  /// Cancel and retry at a workflow's owner (owned by the mediator); null with SQLite.
  OwnerRequests* owner_requests = nullptr;
  /// The journal's retention sweep, for its counter (owned by the mediator).
  const class Retention* retention = nullptr;
  /// Bulk actions' jobs (owned by the mediator).
  BulkActions* bulk = nullptr;
  AuthCache auth_cache;
  /// Long polls of GET /api/orders/{id}?wait_ms= (owned by the mediator).
  SettleWaiters* waiters = nullptr;
  /// Catalogue answers and known ISBNs (owned by the mediator).
  CatalogueCache* catalogue = nullptr;
  /// Whether the services the workflows call consume their queues (owned by the mediator); null
  /// when WONDERLAND_READYZ_REQUIRE_CONSUMERS is off.
  const ConsumerReadiness* readiness = nullptr;
  /// Sign-in, sign-up and order throttles (built from config.throttle).
  std::shared_ptr<Throttles> throttles = std::make_shared<Throttles>(config.throttle);

  Context(Config c, messaging::Connection& conn, workflow::Engine& e,
          const workflow::DefinitionRegistry& r, const AmqpTransport& t, const StepHistograms& s)
      : config(std::move(c)),
        connection(conn),
        rpc(conn),
        engine(e),
        registry(r),
        transport(t),
        steps(s),
        auth_cache(config.auth_cache_ttl) {}

  /// Calls `<service>.commands` with command `type`; `done` runs on the broker's I/O thread.
  void call(const std::string& service, const std::string& type, Json body, JsonCallback done,
            const std::string& correlation_id = {}, const std::string& idempotency_key = {});
  /// The same on a queue of its own name (the logging service answers on `logging.query`).
  void call(const messaging::QueueName& queue, const std::string& type, Json body,
            JsonCallback done, const std::string& correlation_id = {},
            const std::string& idempotency_key = {});
  /// Resolves the request's bearer token to the customer's profile (401 problems otherwise).
  void authenticate(const http::Request& request, JsonCallback done);
  /// Whether the request carries the admin token; otherwise the error to answer (401 without a
  /// token, 403 with another one).
  std::optional<Error> check_admin(const http::Request& request) const;
};

/// The document of a loaded definition, or nullopt.
std::optional<Json> definition_document(const Context& ctx, const std::string& name, int version);
/// The log filter of a request's query string, in the log store's names (`level` → min_severity,
/// `q` → text).
std::map<std::string, std::string> log_filter_params(const http::Request& request);
/// `error` of a log filter with its field errors named as the request named them (`level`, `q`).
Error log_filter_error(const http::Request& request, Error error);
/// Serves GET /api/logs/stream: the live log feed as server-sent events, filtered like /api/logs.
void start_log_stream(Context& ctx, const http::Request& request, const http::Responder& responder);
/// The Prometheus exposition of the mediator's metrics.
std::string prometheus_metrics(const Context& ctx);
/// The same figures as JSON, for the console's charts.
Json metrics_json(const Context& ctx);

/// docs/openapi.json as compiled into the binary (served at GET /api/openapi.json).
std::string_view openapi_document();

/// Customer-facing routes: books, customers, sessions, basket, orders, notifications.
void install_public_api(Context& ctx, http::Router& router);
/// Operator routes: workflows, definitions, logs, metrics, health.
void install_ops_api(Context& ctx, http::Router& router);

}  // namespace wonderland::mediator
