#include "wonderland/mediator/mediator.hpp"

#include <sys/stat.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "context.hpp"
#include "log_hub.hpp"
#include "owner_requests.hpp"
#include "retention.hpp"
#include "signal_events.hpp"
#include "wonderland/common/ids.hpp"
#include "wonderland/common/private_files.hpp"
#include "wonderland/http/server.hpp"
#include "wonderland/http/static_files.hpp"
#include "wonderland/log/log.hpp"
#include "wonderland/mediator/bulk_actions.hpp"
#include "wonderland/mediator/event_feed.hpp"
#include "wonderland/mediator/orders.hpp"
#include "wonderland/mediator/peer_events.hpp"
#include "wonderland/mediator/redact.hpp"
#include "wonderland/runtime/periodic.hpp"
#include "wonderland/workflow/clock.hpp"
#include "wonderland/workflow/sqlite_journal.hpp"
#include "wonderland/workflow_pg/pg_journal.hpp"

namespace wonderland::mediator {
namespace {

/// The step object `id` within a definition document (ids are unique within a definition; the
/// steps of a map step are a definition of their own and not searched), or nullptr.
const Json* find_step_node(const Json& node, const std::string& id) {
  if (node.is_object() && node.contains("kind") && node.value("id", "") == id)
    return &node;
  if (!node.is_array() && !node.is_object())
    return nullptr;
  const bool map = node.is_object() && node.value("kind", "") == "map";
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (map && node.is_object() && it.key() == "steps")
      continue;
    if (const Json* found = find_step_node(*it, id))
      return found;
  }
  return nullptr;
}

/// Adds the documents of the map steps' bodies (definitions named `<name>/<path>`), so that the
/// console draws a map iteration with its own steps.
void add_body_documents(const workflow::Definition& def, const Json& doc,
                        std::map<std::pair<std::string, int>, Json>& documents) {
  for (const workflow::Step& step : def.steps) {
    const Json* node =
        step.kind == workflow::StepKind::kMap ? find_step_node(doc, step.id) : nullptr;
    if (!node || !step.body)
      continue;
    Json body{{"name", step.body->name},
              {"version", step.body->version},
              {"description", step.body->description},
              {"steps", node->value("steps", Json::array())}};
    add_body_documents(*step.body, body, documents);
    documents[{step.body->name, step.body->version}] = std::move(body);
  }
}

std::map<std::pair<std::string, int>, Json> load_definitions(
    const std::filesystem::path& dir, workflow::DefinitionRegistry& registry) {
  std::map<std::pair<std::string, int>, Json> documents;
  if (!std::filesystem::is_directory(dir)) {
    throw std::runtime_error("workflow definitions folder '" + dir.string() + "' does not exist");
  }
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json")
      files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    auto def = workflow::parse_definition_text(text.str(), file.string());
    if (!def.ok())
      throw std::runtime_error(def.error().message);
    auto added = registry.add(def.value());
    if (!added.ok())
      throw std::runtime_error(file.string() + ": " + added.error().message);
    Json doc = Json::parse(text.str());
    add_body_documents(*def.value(), doc, documents);
    documents[{def.value()->name, def.value()->version}] = std::move(doc);
    log::info("loaded workflow {} v{} from {}", def.value()->name, def.value()->version,
              file.string());
  }
  if (auto checked = registry.check_references(); !checked.ok())
    throw std::runtime_error(checked.error().message);
  return documents;
}

/// The operator token: WONDERLAND_ADMIN_TOKEN, else the file WONDERLAND_ADMIN_TOKEN_FILE names,
/// else a random one written to the default file (0600, its folder 0700 when created). The token
/// itself is never logged, only where it is kept.
void resolve_admin_token(Config& config) {
  if (!config.admin_token.empty())
    return;
  const std::string& path = config.admin_token_file;
  if (config.admin_token_file_given) {
    std::ifstream in(path);
    std::string token;
    if (in)
      std::getline(in, token);
    while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back())))
      token.pop_back();
    if (token.empty()) {
      throw std::runtime_error("WONDERLAND_ADMIN_TOKEN_FILE '" + path +
                               "' is missing or empty: write the operator token in it (e.g. "
                               "`(umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \\n' "
                               ">" +
                               path + ")`), or set WONDERLAND_ADMIN_TOKEN");
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
      log::warn("the admin token file {} is readable by other users; chmod 600 it", path);
    }
    config.admin_token = token;
    log::info("operator token read from {}", path);
    return;
  }
  std::string token = random_hex(24);
  try {
    files::write_private_file(path, token + "\n", files::Existing::kReplace);
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot write the generated operator token: " + std::string(e.what()) +
                             "; set WONDERLAND_ADMIN_TOKEN or WONDERLAND_ADMIN_TOKEN_FILE");
  }
  config.admin_token = token;
  log::warn("WONDERLAND_ADMIN_TOKEN is not set; this run's operator token is in {} (mode 0600)",
            path);
}

}  // namespace

std::optional<Json> definition_document(const Context& ctx, const std::string& name, int version) {
  auto it = ctx.definition_documents.find({name, version});
  if (it == ctx.definition_documents.end())
    return std::nullopt;
  return it->second;
}

std::string prometheus_metrics(const Context& ctx) {
  return prometheus_text(ctx.engine.metrics(), ctx.steps) +
         (ctx.journal ? journal_prometheus(ctx.journal->stats()) : std::string()) +
         ctx.throttles->prometheus() +
         (ctx.retention ? ctx.retention->prometheus() : std::string());
}

Json metrics_json(const Context& ctx) {
  auto m = ctx.engine.metrics();
  return Json{{"workflows",
               {{"started", m.started},
                {"completed", m.completed},
                {"failed", m.failed},
                {"compensated", m.compensated},
                {"cancelled", m.cancelled},
                {"needs_attention", m.needs_attention},
                {"in_flight", m.in_flight},
                {"awaiting_attention", m.awaiting_attention},
                {"recovered", m.recovered},
                {"taken_over", m.taken_over},
                {"lost", m.lost}}},
              {"steps", ctx.steps.to_json()},
              {"journal", ctx.journal ? journal_json(ctx.journal->stats()) : Json::object()},
              {"throttled",
               {{"sign_in", ctx.throttles->refused_sign_in.load()},
                {"sign_up", ctx.throttles->refused_sign_up.load()},
                {"orders", ctx.throttles->refused_orders.load()}}}};
}

struct Mediator::Impl {
  Config config;
  workflow::DefinitionRegistry registry;
  std::map<std::pair<std::string, int>, Json> documents;
  std::unique_ptr<workflow::Journal> journal;
  workflow::PgJournal* shared_journal = nullptr;    ///< `journal`, when it is shared.
  std::unique_ptr<runtime::Periodic> lease_upkeep;  ///< Renews and claims leases (shared only).
  /// Moves old finished workflows to the journal's archive.
  std::unique_ptr<Retention> retention;
  /// The other mediators' workflow events, for long polls and the catalogue (shared only).
  std::unique_ptr<PeerEvents> peer_events;
  /// Cancel and retry forwarded to (and from) the other mediators (shared only).
  std::unique_ptr<OwnerRequests> owner_requests;
  /// Bulk operator actions, through the owner requests when there are any.
  std::unique_ptr<BulkActions> bulk;
  /// Signals from services, as events on the broker.
  std::unique_ptr<SignalEvents> signal_events;
  std::unique_ptr<AmqpTransport> transport;
  workflow::SystemClock clock;
  std::unique_ptr<StepHistograms> steps;
  std::unique_ptr<EventFeed> feed;
  std::unique_ptr<CatalogueCache> catalogue;
  std::shared_ptr<SettleWaiters> waiters = std::make_shared<SettleWaiters>();
  std::unique_ptr<workflow::Engine> engine;
  /// The services' consumers, for GET /readyz (null when not required).
  std::unique_ptr<ConsumerReadiness> readiness;
  std::unique_ptr<Context> context;
  std::unique_ptr<http::Server> server;

  /// The transport, the observers and the engine, which resumes the unfinished workflows.
  void start_engine(messaging::Connection& connection);
};

namespace {

/// The fingerprint key: as configured, else loaded from (or created in) its file beside the
/// journal.
void resolve_fingerprint_key(Config& config) {
  if (config.fingerprint_key)
    return;
  const std::filesystem::path file =
      !config.fingerprint_key_file.empty()
          ? std::filesystem::path(config.fingerprint_key_file)
          : std::filesystem::path(config.journal_path).parent_path() / "fingerprint.key";
  config.fingerprint_key = std::make_shared<const SecretKey>(SecretKey::load_or_create(file));
}

/// The SQLite journal. Journals written before payments were tokenised are scrubbed of card
/// data once, here.
std::unique_ptr<workflow::Journal> open_sqlite(const Config& config) {
  workflow::SqliteJournalOptions journal_options{.path = config.journal_path};
  journal_options.rewrite_name = kCardDataScrub;
  journal_options.rewrite = [key = config.fingerprint_key](Json& data) {
    return scrub_card_data(data,
                           [&](const Json& payment) { return order_fingerprint(*key, payment); });
  };
  auto journal = workflow::open_sqlite_journal(journal_options);
  if (!journal.ok())
    throw std::runtime_error("journal: " + journal.error().message);
  log::info("journal: SQLite {}", config.journal_path);
  return std::move(journal.value());
}

/// The PostgreSQL journal shared with other mediators (refuses an unreachable database, a
/// schema of a newer version and an instance id a live mediator uses).
std::unique_ptr<workflow::PgJournal> open_shared(const Config& config) {
  auto journal = workflow::open_pg_journal({.url = config.journal_url,
                                            .schema = config.journal_schema,
                                            .instance_id = config.instance_id,
                                            .lease = config.journal_lease});
  if (!journal.ok()) {
    const std::string& why = journal.error().message;
    throw std::runtime_error(why.rfind("journal: ", 0) == 0 ? why : "journal: " + why);
  }
  log::info("journal: PostgreSQL, shared; this mediator is {} (lease {} ms)", config.instance_id,
            config.journal_lease.count());
  return std::move(journal.value());
}

/// The HTTP server with every route, and the web front end when its folder exists.
std::unique_ptr<http::Server> make_server(const Config& config, Context& context) {
  http::ServerOptions http_options;
  http_options.address = config.http_address;
  http_options.port = config.http_port;
  http_options.threads = config.http_threads;
  http_options.max_connections = config.http_max_connections;
  auto server = std::make_unique<http::Server>(http_options);
  install_public_api(context, server->router());
  install_ops_api(context, server->router());
  if (std::filesystem::is_directory(config.web_dir)) {
    http::StaticFilesOptions web;
    web.root = config.web_dir;
    web.spa_fallback = false;
    http::StaticFiles files(web);
    server->router().add(http::Method::get, "/{path...}", files.handler());
  } else {
    log::warn("web folder '{}' not found: the storefront and console are not served",
              config.web_dir);
  }
  return server;
}

/// Bulk actions acting as the single-workflow routes do: through `owners` when there are any.
std::unique_ptr<BulkActions> make_bulk_actions(workflow::Engine& engine, OwnerRequests* owners) {
  return std::make_unique<BulkActions>(
      [&engine](const workflow::WorkflowQuery& q) { return engine.list(q); },
      [&engine, owners](BulkAction action, const std::string& id, const std::string& reason,
                        std::function<void(const Status&)> done) {
        submit_request(owners, engine, {owner_request_kind(action), id, reason}, std::move(done));
      });
}

}  // namespace

void Mediator::Impl::start_engine(messaging::Connection& connection) {
  TransportOptions transport_options{.queue_prefix = config.queue_prefix};
  transport_options.command_delivery = config.persistent_commands ? messaging::Delivery::kPersistent
                                                                  : messaging::Delivery::kTransient;
  transport = std::make_unique<AmqpTransport>(connection, transport_options);
  steps = std::make_unique<StepHistograms>(registry);
  PeerFeed peers;
  if (!config.journal_url.empty()) {
    peers.origin = config.instance_id;
    peers.wanted = [&registry = registry](const workflow::WorkflowEvent& e) {
      return SettleWaiters::answers(e, registry) || CatalogueCache::changes_stock(e, registry);
    };
  }
  feed = std::make_unique<EventFeed>(connection, messaging::exchanges::kWorkflow,
                                     std::chrono::milliseconds(100), 500, std::move(peers));
  workflow::EngineOptions options;
  options.compensation_retry.max_attempts = config.compensation_max_attempts;
  options.compensation_retry.initial_backoff = config.compensation_backoff;
  options.compensation_retry.max_backoff = config.compensation_max_backoff;
  options.observers.push_back(steps->observer());
  options.observers.push_back(feed->observer());
  // Before the waiters: a long poll woken by an order's end then reads the catalogue afresh.
  catalogue = std::make_unique<CatalogueCache>(config.catalogue_cache_ttl);
  options.observers.push_back(catalogue->observer(registry));
  options.observers.push_back(waiters->observer(registry));
  auto created = workflow::Engine::create(options, registry, *journal, *transport, clock);
  if (!created.ok())
    throw std::runtime_error("engine: " + created.error().message);
  engine = std::move(created.value());
  log::info("engine resumed {} unfinished workflow(s)", engine->metrics().recovered);
}

Mediator::Mediator(messaging::Connection& connection, Config config)
    : impl_(std::make_unique<Impl>()) {
  auto& m = *impl_;
  resolve_admin_token(config);
  resolve_fingerprint_key(config);
  m.config = config;
  m.documents = load_definitions(config.workflows_dir, m.registry);
  if (config.journal_url.empty()) {
    m.journal = open_sqlite(config);
  } else {
    auto shared = open_shared(config);
    m.shared_journal = shared.get();
    m.journal = std::move(shared);
  }
  m.start_engine(connection);
  if (m.shared_journal) {
    m.peer_events = std::make_unique<PeerEvents>(
        connection, messaging::exchanges::kWorkflow, config.instance_id,
        std::vector<workflow::Observer>{m.catalogue->observer(m.registry),
                                        m.waiters->observer(m.registry)});
    m.lease_upkeep = std::make_unique<runtime::Periodic>(
        "journal leases", config.journal_lease / 3, [engine = m.engine.get()] {
          if (auto st = engine->maintain_ownership(); !st)
            log::warn("journal leases: {}", st.error().message);
        });
    m.owner_requests = std::make_unique<OwnerRequests>(connection, *m.engine, *m.shared_journal,
                                                       config.queue_prefix, config.rpc_timeout);
  }
  m.signal_events = std::make_unique<SignalEvents>(connection, *m.engine, m.owner_requests.get(),
                                                   config.queue_prefix);

  m.context =
      std::make_unique<Context>(config, connection, *m.engine, m.registry, *m.transport, *m.steps);
  m.context->definition_documents = m.documents;
  m.context->log_hub = std::make_shared<LogHub>(connection);
  m.context->waiters = m.waiters.get();
  m.context->catalogue = m.catalogue.get();
  m.context->journal = m.journal.get();
  m.context->shared_journal = m.shared_journal;
  m.context->owner_requests = m.owner_requests.get();
  m.retention = std::make_unique<Retention>(
      *m.journal, RetentionPolicy{config.retention_age, config.retention_interval});
  m.context->retention = m.retention.get();
  m.bulk = make_bulk_actions(*m.engine, m.owner_requests.get());
  m.context->bulk = m.bulk.get();
  if (config.readyz_require_consumers) {
    std::vector<messaging::QueueName> queues;
    for (const std::string& service : task_services(m.registry))
      queues.push_back(m.transport->queue_for(service));
    m.readiness = std::make_unique<ConsumerReadiness>(connection, std::move(queues));
    m.context->readiness = m.readiness.get();
  }
  if (m.shared_journal) {
    // One sign-in budget for all the mediators behind the load balancer.
    share_sign_in_throttles(*m.context->throttles, config.throttle, config.journal_url,
                            config.journal_schema);
  }

  m.server = make_server(config, *m.context);
  m.server->start();
  log::info("mediator listening on http://{}:{}", config.http_address, m.server->port());
}

Mediator::~Mediator() {
  auto& m = *impl_;
  if (m.server)
    m.server->stop();
  m.server.reset();
  m.bulk.reset();  // its jobs stop after their actions in flight, before what they go through
  m.peer_events.reset();
  m.signal_events.reset();  // before the owner requests it forwards through
  m.owner_requests.reset();
  m.waiters.reset();  // long polls that did not end yet are dropped; its thread stops
  m.context.reset();
  m.readiness.reset();
  m.lease_upkeep.reset();
  m.retention.reset();
  m.engine.reset();
  if (m.shared_journal) {
    // Another mediator may take this one's workflows at once instead of after the lease.
    if (auto st = m.shared_journal->release(); !st)
      log::warn("journal: releasing the leases failed: {}", st.error().message);
  }
  m.feed.reset();
}

std::uint16_t Mediator::port() const {
  return impl_->server->port();
}
workflow::Engine& Mediator::engine() {
  return *impl_->engine;
}
const Config& Mediator::config() const {
  return impl_->config;
}

}  // namespace wonderland::mediator
