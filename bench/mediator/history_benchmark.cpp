// What a large finished history costs a wonderland-mediator process.
//
//   history_benchmark [--workflows N] [--running R] [--dir DIR] [--reuse] [--keep]
//                     [--journal-url postgresql://... [--journal-schema S]]
//                     [--retention-days D [--retention-timeout SECONDS]]
//
// 1. Fills a journal (SQLite by default, PostgreSQL with --journal-url) with N finished
//    five-step workflows and R running ones. The records are the engine's own: one workflow of
//    each definition runs through the engine first (in-process services, a journal in memory)
//    and its records are the template of all the others, with the ids and times replaced. The
//    finished workflows' times spread evenly over the past 60 days (oldest first); the running
//    ones started within the last hour and are parked on a signal step with a one-day timeout,
//    so the mediator's start-up recovery rebuilds them and then waits.
// 2. Starts the wonderland-mediator on that journal (the two definitions in a workflows folder
//    of its own) and measures: the journal's size on disk, the start-up time until the
//    recovery's log line and until GET /readyz answers, GET /api/workflows with filters and
//    GET /api/workflows/{id} of random ids over the whole history (p50, p99), and the process's
//    VmRSS and VmHWM after the start and after the queries.
// 3. With --retention-days D: restarts the mediator with WONDERLAND_RETENTION_DAYS=D and
//    WONDERLAND_RETENTION_INTERVAL_MS=1000, waits until `workflows` holds no finished workflow
//    last updated more than D days ago (asking the database directly), reports how long that
//    took, and measures everything again on a mediator started afresh. When the sweep does not
//    end within --retention-timeout, the figures after retention are left out.
//
//   build/bench/mediator/history_benchmark --url amqp://guest:guest@127.0.0.1:5672/
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <pqxx/pqxx>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "wonderland/bench/process.hpp"
#include "wonderland/bench/stats.hpp"
#include "wonderland/common/ids.hpp"
#include "wonderland/common/json_text.hpp"
#include "wonderland/common/time.hpp"
#include "wonderland/mediator/redact.hpp"
#include "wonderland/sqlite/db.hpp"
#include "wonderland/workflow/engine.hpp"
#include "wonderland/workflow/sqlite_journal.hpp"
#include "wonderland/workflow_pg/pg_journal.hpp"

extern char** environ;

namespace {

using namespace wonderland;  // NOLINT
using nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr const char* kFive = "history_five";
constexpr const char* kParked = "history_signal";
constexpr std::int64_t kDayMs = 24LL * 3600 * 1000;
constexpr std::int64_t kSpanMs = 60 * kDayMs;  // the finished history's time span
constexpr int kSeqBits = 24;                   // the SQLite journal's rid = wid << 24 | seq

struct Options {
  long workflows = 1000000;
  long running = 300;
  std::string url;
  std::string mediator;
  std::string dir;
  std::string journal_url;
  std::string journal_schema = "history_bench";
  int port = 8290;
  int requests = 300;
  int retention_days = 0;
  int retention_timeout_s = 300;
  bool reuse = false;
  bool keep = false;
  bool sqlite() const { return journal_url.empty(); }
};

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string iso_ms(std::int64_t ms) {
  return format_iso8601(SystemTime(std::chrono::milliseconds(ms)));
}

std::string numbered(const char* prefix, long i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s-%08ld", prefix, i);
  return buf;
}

// ---------------------------------------------------------------------------------------------
// The two definitions and their template records.

json five_steps() {
  json steps = json::array();
  for (const char* id : {"reserve", "charge", "ship", "record", "confirm"}) {
    const std::string s = id;
    steps.push_back({{"id", s},
                     {"kind", "task"},
                     {"service", "history"},
                     {"action", "history." + s},
                     {"input", {{"order_id", "${workflow.id}"}, {"customer", "${input.customer}"}}},
                     {"compensation",
                      {{"action", "history." + s + ".undo"},
                       {"input", {{"ref", "${steps." + s + ".output.ref}"}}}}}});
  }
  return json{{"name", kFive}, {"version", 1}, {"steps", steps}};
}

json signal_steps() {
  json prepare = {{"id", "prepare"},
                  {"kind", "task"},
                  {"service", "history"},
                  {"action", "history.prepare"},
                  {"input", {{"order_id", "${workflow.id}"}}}};
  json wait = {
      {"id", "approval"}, {"kind", "signal"}, {"signal", "approved"}, {"timeout_ms", kDayMs}};
  json finish = {{"id", "finish"},
                 {"kind", "task"},
                 {"service", "history"},
                 {"action", "history.finish"},
                 {"input", {{"order_id", "${workflow.id}"}}}};
  return json{{"name", kParked}, {"version", 1}, {"steps", json::array({prepare, wait, finish})}};
}

/// One workflow's records as the engine wrote them, and the id they were written for.
struct Template {
  std::string id;
  std::vector<workflow::JournalRecord> records;
};

struct Templates {
  Template finished;  ///< A completed five-step workflow.
  Template parked;    ///< A workflow waiting at its signal step.
};

/// Polls the journal until `done` holds for the workflow's records (at most 10 s).
Template wait_for(workflow::Journal& journal, const std::string& id,
                  const std::function<bool(const workflow::WorkflowHistory&)>& done) {
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    auto h = journal.history(id);
    if (h.ok() && done(h.value()))
      return Template{id, h.value().records};
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  throw std::runtime_error("the template workflow " + id + " did not get there in time");
}

/// Runs one workflow of each definition through the engine and keeps their records.
Templates make_templates() {
  workflow::DefinitionRegistry registry;
  if (!registry.add(workflow::parse_definition(five_steps(), "bench").value()) ||
      !registry.add(workflow::parse_definition(signal_steps(), "bench").value())) {
    throw std::runtime_error("the benchmark's definitions do not register");
  }
  workflow::InProcessTransport transport;
  for (const char* s : {"reserve", "charge", "ship", "record", "confirm", "prepare", "finish"}) {
    transport.on(std::string("history.") + s, [](const workflow::Command& c) -> Result<json> {
      return json{{"ref", c.idempotency_key}, {"ok", true}};
    });
  }
  workflow::MemoryJournal journal;
  workflow::SystemClock clock;
  auto engine = workflow::Engine::create({}, registry, journal, transport, clock).value();
  auto started = [](Result<std::string> r) {
    if (!r) {
      std::fprintf(stderr, "template start: %s\n", r.error().message.c_str());
      std::exit(1);
    }
  };
  const std::string five_id = numbered("hist", 0);
  const std::string parked_id = numbered("park", 0);
  engine->start({.definition = kFive, .input = json{{"customer", "customer-42"}}, .id = five_id},
                started);
  engine->start({.definition = kParked, .id = parked_id}, started);
  Templates t;
  t.finished = wait_for(journal, five_id, [](const workflow::WorkflowHistory& h) {
    return h.summary.status == workflow::WorkflowStatus::kCompleted;
  });
  t.parked = wait_for(journal, parked_id, [](const workflow::WorkflowHistory& h) {
    return !h.records.empty() && h.records.back().type == workflow::events::kStepStarted &&
           h.records.back().step == "approval";
  });
  engine.reset();
  return t;
}

/// A template record prepared for copying: its data split around the template's id, and its
/// time as an offset from the workflow's start.
struct Part {
  const workflow::JournalRecord* record = nullptr;
  std::vector<std::string> pieces;  ///< data = pieces joined by the new id
  std::string data;                 ///< the template's data text (PostgreSQL: replace() there)
  std::int64_t offset_ms = 0;
  std::string status;  ///< events.status: empty for NULL
};

std::int64_t ms_of(const std::string& iso) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             parse_iso8601(iso).value_or(SystemTime{}).time_since_epoch())
      .count();
}

std::vector<Part> prepare_parts(const Template& t) {
  std::vector<Part> parts;
  const std::int64_t t0 = ms_of(t.records.front().at);
  for (const auto& r : t.records) {
    Part p{.record = &r, .data = to_json_text(r.data), .offset_ms = ms_of(r.at) - t0};
    std::size_t from = 0;
    for (std::size_t at = p.data.find(t.id); at != std::string::npos;
         at = p.data.find(t.id, from)) {
      p.pieces.push_back(p.data.substr(from, at - from));
      from = at + t.id.size();
    }
    p.pieces.push_back(p.data.substr(from));
    if (r.status)
      p.status = std::string(workflow::to_string(*r.status));
    parts.push_back(std::move(p));
  }
  return parts;
}

/// The `workflows` row a template's records leave: its last status and when it was set.
struct Shape {
  std::string definition;
  int version = 1;
  std::string status;
  std::string reason;
  std::int64_t updated_offset_ms = 0;
};

Shape shape_of(const std::vector<Part>& parts) {
  Shape s;
  const auto& started = parts.front().record->data;
  s.definition = started.value("definition", std::string{});
  s.version = started.value("version", 1);
  for (const auto& p : parts) {
    if (p.status.empty())
      continue;
    s.status = p.status;
    auto reason = p.record->data.find("reason");
    s.reason = reason != p.record->data.end() && reason->is_string() ? reason->get<std::string>()
                                                                     : std::string{};
    s.updated_offset_ms = p.offset_ms;
  }
  return s;
}

/// One kind of workflow to write: `count` copies of a template, numbered from 1 with `prefix`,
/// the first starting at `start_ms` and each next one `step_ms` later.
struct Batch {
  const Template* tmpl = nullptr;
  const char* prefix = "";
  long count = 0;
  std::int64_t start_ms = 0;
  double step_ms = 0;
};

std::vector<Batch> batches(const Options& opt, const Templates& t) {
  const std::int64_t now = now_ms();
  return {Batch{&t.finished, "hist", opt.workflows, now - kSpanMs - kDayMs / 24,
                static_cast<double>(kSpanMs) / static_cast<double>(opt.workflows)},
          Batch{&t.parked, "park", opt.running, now - kDayMs / 24,
                static_cast<double>(kDayMs / 24) / static_cast<double>(std::max(1L, opt.running))}};
}

void progress(const char* what, long done, long total, Clock::time_point t0) {
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::fprintf(stderr, "\r  %s: %ld / %ld workflows, %.0f s", what, done, total, s);
  if (done == total)
    std::fprintf(stderr, "\n");
}

// ---------------------------------------------------------------------------------------------
// Filling a SQLite journal: prepared statements, one transaction per chunk.

class SqliteFill {
 public:
  explicit SqliteFill(const fs::path& path) : db_(path.string(), {.synchronous = "OFF"}) {
    db_.exec("PRAGMA cache_size=-262144");
  }

  void write(const Batch& b, std::int64_t first_wid) {
    const auto parts = prepare_parts(*b.tmpl);
    const Shape shape = shape_of(parts);
    const auto t0 = Clock::now();
    constexpr long kChunk = 20000;
    for (long from = 1; from <= b.count; from += kChunk) {
      sqlite::Transaction tx(db_);
      auto w = db_.prepare(
          "INSERT INTO workflows(wid, id, definition, version, status, reason, created_at, "
          "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
      auto e = db_.prepare(
          "INSERT INTO events(rid, type, step, attempt, at, status, data) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
      const long to = std::min(b.count, from + kChunk - 1);
      for (long i = from; i <= to; ++i)
        one(w, e, b, parts, shape, first_wid + i - 1, i);
      w.reset();
      e.reset();
      tx.commit();
      progress(b.prefix, to, b.count, t0);
    }
  }

  /// Marks the journal as the mediator marks the ones it creates: scrubbed of card data already
  /// (else its first start would read every record once to scrub them).
  void finish() {
    db_.prepare("INSERT OR REPLACE INTO journal_meta(key, value) VALUES (?1, ?2)")
        .bind(1, std::string("rewrite:") + mediator::kCardDataScrub)
        .bind(2, "0 records rewritten at " + now_iso8601())
        .step();
    db_.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }

 private:
  void one(sqlite::Statement& w, sqlite::Statement& e, const Batch& b,
           const std::vector<Part>& parts, const Shape& shape, std::int64_t wid, long i) {
    const std::string id = numbered(b.prefix, i);
    const auto base = b.start_ms + static_cast<std::int64_t>(static_cast<double>(i) * b.step_ms);
    w.reset();
    w.bind(1, wid).bind(2, id).bind(3, shape.definition).bind(4, shape.version);
    w.bind(5, shape.status).bind(6, shape.reason).bind(7, iso_ms(base));
    w.bind(8, iso_ms(base + shape.updated_offset_ms)).step();
    for (const auto& p : parts) {
      data_.clear();
      for (std::size_t k = 0; k < p.pieces.size(); ++k) {
        if (k > 0)
          data_ += id;
        data_ += p.pieces[k];
      }
      e.reset();
      e.bind(1, (wid << kSeqBits) | p.record->seq).bind(2, p.record->type);
      e.bind(3, p.record->step).bind(4, p.record->attempt).bind(5, iso_ms(base + p.offset_ms));
      if (p.status.empty())
        e.bind_null(6);
      else
        e.bind(6, p.status);
      e.bind(7, data_).step();
    }
  }

  sqlite::Db db_;
  std::string data_;
};

void fill_sqlite(const Options& opt, const Templates& t, const fs::path& path) {
  fs::remove(path);
  fs::remove(path.string() + "-wal");
  fs::remove(path.string() + "-shm");
  {
    auto journal = workflow::open_sqlite_journal({.path = path});
    if (!journal)
      throw std::runtime_error("journal: " + journal.error().message);
  }
  SqliteFill fill(path);
  const auto b = batches(opt, t);
  fill.write(b[0], 1);
  fill.write(b[1], opt.workflows + 1);
  fill.finish();
}

// ---------------------------------------------------------------------------------------------
// Filling a PostgreSQL journal: the template in a temporary table, copied by the server with
// INSERT ... SELECT over generate_series, one transaction per chunk.

std::string q(pqxx::connection& c, const std::string& schema) {
  return c.quote_name(schema);
}

void load_template(pqxx::connection& c, const std::vector<Part>& parts, const std::string& kind) {
  pqxx::work tx(c);
  tx.exec(
      "CREATE TEMP TABLE IF NOT EXISTS tmpl (kind text, seq bigint, type text, step text, "
      "attempt integer, off float8, status text, data text)");
  for (const auto& p : parts) {
    tx.exec_params("INSERT INTO tmpl VALUES ($1, $2, $3, $4, $5, $6, NULLIF($7, ''), $8)", kind,
                   p.record->seq, p.record->type, p.record->step, p.record->attempt,
                   static_cast<double>(p.offset_ms), p.status, p.data);
  }
  tx.commit();
}

std::string pg_workflows_sql(const std::string& s) {
  return "INSERT INTO " + s +
         ".workflows (id, definition, version, status, reason, created_at, updated_at, owner, "
         "lease_until, fence) SELECT $1::text || '-' || lpad(g::text, 8, '0'), $2::text, "
         "$3::integer, $4::text, $5::text, "
         "to_timestamp(floor($6::float8 + g * $7::float8) / 1000.0), "
         "to_timestamp(floor($6::float8 + g * $7::float8 + $8::float8) / 1000.0), '', "
         "now() - interval '1 hour', 1 FROM generate_series($9::bigint, $10::bigint) g ORDER BY g";
}

std::string pg_events_sql(const std::string& s) {
  return "INSERT INTO " + s +
         ".events (workflow_id, seq, type, step, attempt, at, status, data) "
         "SELECT $1::text || '-' || lpad(g::text, 8, '0'), t.seq, t.type, t.step, t.attempt, "
         "to_timestamp(floor($2::float8 + g * $3::float8 + t.off) / 1000.0), t.status, "
         "replace(t.data, $4::text, $1::text || '-' || lpad(g::text, 8, '0'))::jsonb "
         "FROM generate_series($5::bigint, $6::bigint) g CROSS JOIN tmpl t WHERE t.kind = $1::text "
         "ORDER BY g, t.seq";
}

void pg_write(pqxx::connection& c, const std::string& schema, const Batch& b) {
  const auto parts = prepare_parts(*b.tmpl);
  const Shape shape = shape_of(parts);
  load_template(c, parts, b.prefix);
  const std::string s = q(c, schema);
  const auto t0 = Clock::now();
  constexpr long kChunk = 50000;
  for (long from = 1; from <= b.count; from += kChunk) {
    const long to = std::min(b.count, from + kChunk - 1);
    pqxx::work tx(c);
    tx.exec_params(pg_workflows_sql(s), b.prefix, shape.definition, shape.version, shape.status,
                   shape.reason, static_cast<double>(b.start_ms), b.step_ms,
                   static_cast<double>(shape.updated_offset_ms), from, to);
    tx.exec_params(pg_events_sql(s), b.prefix, static_cast<double>(b.start_ms), b.step_ms,
                   b.tmpl->id, from, to);
    tx.commit();
    progress(b.prefix, to, b.count, t0);
  }
}

void fill_postgres(const Options& opt, const Templates& t) {
  pqxx::connection c(opt.journal_url);
  {
    pqxx::work tx(c);
    tx.exec("DROP SCHEMA IF EXISTS " + q(c, opt.journal_schema) + " CASCADE");
    tx.commit();
  }
  {
    auto journal = workflow::open_pg_journal(
        {.url = opt.journal_url, .schema = opt.journal_schema, .instance_id = new_uuid()});
    if (!journal)
      throw std::runtime_error("journal: " + journal.error().message);
  }
  const auto b = batches(opt, t);
  pg_write(c, opt.journal_schema, b[0]);
  pg_write(c, opt.journal_schema, b[1]);
  pqxx::nontransaction tx(c);
  tx.exec("VACUUM ANALYZE " + q(c, opt.journal_schema) + ".workflows");
  tx.exec("VACUUM ANALYZE " + q(c, opt.journal_schema) + ".events");
}

// ---------------------------------------------------------------------------------------------
// The journal seen from outside: sizes, and the finished workflows retention should move.

/// The database behind the journal, asked directly.
class Probe {
 public:
  virtual ~Probe() = default;
  /// Rows of (figure, value) for the size on disk.
  virtual std::vector<std::pair<std::string, std::string>> sizes() = 0;
  /// Completed, failed and cancelled workflows in `workflows` last updated before `cutoff_ms`
  /// (what retention archives; needs_attention ones stay).
  virtual long finished_before(std::int64_t cutoff_ms) = 0;
  /// Rows of `archived_workflows`, or -1 when there is no such table.
  virtual long archived() = 0;
};

std::string mib(double bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / 1048576.0);
  return buf;
}

double size_on_disk(const fs::path& p) {
  std::error_code ec;
  const auto n = fs::file_size(p, ec);
  return ec ? 0.0 : static_cast<double>(n);
}

class SqliteProbe final : public Probe {
 public:
  explicit SqliteProbe(fs::path path) : path_(std::move(path)) {}

  std::vector<std::pair<std::string, std::string>> sizes() override {
    sqlite::Db db(path_.string(), {.create = false});
    auto pragma = [&](const char* name) {
      auto s = db.prepare(std::string("PRAGMA ") + name);
      return s.step() ? static_cast<double>(s.int64(0)) : 0.0;
    };
    const double page = pragma("page_size");
    const double pages = pragma("page_count");
    const double free_pages = pragma("freelist_count");
    return {{"journal file", mib(size_on_disk(path_))},
            {"  -wal file", mib(size_on_disk(path_.string() + "-wal"))},
            {"  in use (page_count - freelist_count)", mib((pages - free_pages) * page)},
            {"  free pages (reused before the file grows)", mib(free_pages * page)}};
  }

  long finished_before(std::int64_t cutoff_ms) override {
    sqlite::Db db(path_.string(), {.create = false});
    auto s = db.prepare(
        "SELECT count(*) FROM workflows WHERE status IN ('completed', 'failed', 'cancelled') AND "
        "updated_at < ?1");
    s.bind(1, iso_ms(cutoff_ms));
    return s.step() ? static_cast<long>(s.int64(0)) : 0;
  }

  long archived() override {
    sqlite::Db db(path_.string(), {.create = false});
    auto t = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'archived_workflows'");
    if (!t.step())
      return -1;
    auto s = db.prepare("SELECT count(*) FROM archived_workflows");
    return s.step() ? static_cast<long>(s.int64(0)) : 0;
  }

 private:
  fs::path path_;
};

class PgProbe final : public Probe {
 public:
  PgProbe(const std::string& url, std::string schema) : conn_(url), schema_(std::move(schema)) {}

  std::vector<std::pair<std::string, std::string>> sizes() override {
    pqxx::nontransaction tx(conn_);
    std::vector<std::pair<std::string, std::string>> rows;
    double total = 0;
    for (const char* table : {"workflows", "events", "archived_workflows"}) {
      auto r = tx.exec_params(
          "SELECT pg_total_relation_size(to_regclass($1)), pg_relation_size(to_regclass($1))",
          conn_.quote_name(schema_) + "." + table);
      if (r[0][0].is_null())
        continue;
      const auto all = r[0][0].as<double>();
      total += all;
      rows.emplace_back(std::string("  ") + table + " (with indexes)", mib(all));
      rows.emplace_back(std::string("    ") + table + " heap only", mib(r[0][1].as<double>()));
    }
    rows.insert(rows.begin(), {"journal tables (pg_total_relation_size)", mib(total)});
    return rows;
  }

  long finished_before(std::int64_t cutoff_ms) override {
    pqxx::nontransaction tx(conn_);
    return tx
        .exec_params(
            "SELECT count(*) FROM " + conn_.quote_name(schema_) +
                ".workflows WHERE status IN ('completed', 'failed', 'cancelled') AND updated_at < "
                "to_timestamp($1::float8 / 1000.0)",
            static_cast<double>(cutoff_ms))[0][0]
        .as<long>();
  }

  long archived() override {
    pqxx::nontransaction tx(conn_);
    const std::string table = conn_.quote_name(schema_) + ".archived_workflows";
    if (tx.exec_params("SELECT to_regclass($1)", table)[0][0].is_null())
      return -1;
    return tx.exec("SELECT count(*) FROM " + table)[0][0].as<long>();
  }

 private:
  pqxx::connection conn_;
  std::string schema_;
};

// ---------------------------------------------------------------------------------------------
// The mediator process and an HTTP client.

/// VmRSS and VmHWM of a process, in KiB.
std::pair<long, long> memory_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  long rss = 0;
  long hwm = 0;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0)
      rss = std::atol(line.c_str() + 6);
    if (line.rfind("VmHWM:", 0) == 0)
      hwm = std::atol(line.c_str() + 6);
  }
  return {rss, hwm};
}

// ---------------------------------------------------------------------------------------------
// Phases: a mediator started on the journal, and the figures measured on it.

using Rows = std::vector<std::pair<std::string, std::string>>;

std::string fmt(double v, const char* unit, int decimals = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f %s", decimals, v, unit);
  return buf;
}

/// A wonderland-mediator on the journal: how long it took to recover and to answer /readyz.
struct Mediator {
  std::unique_ptr<bench::ChildProcess> process;
  std::unique_ptr<bench::LocalHttpClient> http;
  std::string token = "history-" + new_uuid();
  double recovered_ms = -1;  ///< until the log said how many workflows it resumed
  double ready_ms = -1;      ///< until GET /readyz answered 200
  std::string resumed;       ///< that log line
};

std::map<std::string, std::string> journal_env(const Options& opt, const fs::path& sqlite_path,
                                               const std::string& schema) {
  if (opt.sqlite())
    return {{"WONDERLAND_JOURNAL_PATH", sqlite_path.string()}};
  return {{"WONDERLAND_JOURNAL_URL", opt.journal_url},
          {"WONDERLAND_JOURNAL_SCHEMA", schema},
          {"WONDERLAND_MEDIATOR_ID", new_uuid()}};
}

void note_recovery(Mediator& m, Clock::time_point t0) {
  if (m.recovered_ms >= 0)
    return;
  const std::string log = m.process->log();
  const auto at = log.find("engine resumed");
  if (at == std::string::npos)
    return;
  m.recovered_ms = bench::ms_between(t0, Clock::now());
  m.resumed = log.substr(at, log.find('\n', at) - at);
}

std::unique_ptr<Mediator> start_mediator(const Options& opt, const fs::path& dir,
                                         std::map<std::string, std::string> env,
                                         const std::string& name) {
  auto m = std::make_unique<Mediator>();
  env["WONDERLAND_AMQP_URL"] = opt.url;
  env["WONDERLAND_HTTP_PORT"] = std::to_string(opt.port);
  env["WONDERLAND_ADMIN_TOKEN"] = m->token;
  env["WONDERLAND_WORKFLOWS_DIR"] = (dir / "definitions").string();
  env["WONDERLAND_WEB_DIR"] = (dir / "no-web").string();
  env["WONDERLAND_QUEUE_PREFIX"] = "history-" + new_uuid().substr(0, 8);
  env["WONDERLAND_LOG_LEVEL"] = "info";
  env["WONDERLAND_READYZ_REQUIRE_CONSUMERS"] = "0";
  // Everything stays hot unless retention is measured (a mediator with retention archives
  // after 30 days by default).
  env.emplace("WONDERLAND_RETENTION_DAYS", "0");
  const auto t0 = Clock::now();
  m->process =
      std::make_unique<bench::ChildProcess>(opt.mediator, env, dir / (name + ".log"), true);
  m->http = std::make_unique<bench::LocalHttpClient>(opt.port);
  const auto deadline = t0 + std::chrono::seconds(600);
  for (;;) {
    note_recovery(*m, t0);
    if (m->process->exited())
      throw std::runtime_error(name + " exited:\n" + m->process->log());
    try {
      if (m->http->request(boost::beast::http::verb::get, "/readyz", "").first == 200)
        break;
    } catch (const std::exception&) {
    }
    if (Clock::now() > deadline)
      throw std::runtime_error(name + " did not become ready:\n" + m->process->log());
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  m->ready_ms = bench::ms_between(t0, Clock::now());
  note_recovery(*m, t0);
  return m;
}

/// p50 / p99 of GET `target(i)` over `n` requests; counts answers other than `expect`.
std::string timed_gets(Mediator& m, int n, const std::function<std::string(int)>& target,
                       int expect = 200, int* other = nullptr) {
  std::vector<double> ms;
  ms.reserve(static_cast<std::size_t>(n));
  int wrong = 0;
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    const auto sent = Clock::now();
    const int status = m.http->request(boost::beast::http::verb::get, target(i), m.token).first;
    ms.push_back(bench::ms_between(sent, Clock::now()));
    if (status != expect)
      ++wrong;
  }
  const auto f = bench::summarize(ms, std::chrono::duration<double>(Clock::now() - t0).count());
  if (other)
    *other = wrong;
  char buf[96];
  std::snprintf(buf, sizeof buf, "%.2f / %.2f ms%s", f.p50_ms, f.p99_ms,
                wrong > 0 && !other ? " (errors!)" : "");
  return buf;
}

/// The page token after walking `pages` pages of 1000 from the newest workflow.
std::string deep_token(Mediator& m, int pages) {
  std::string token;
  for (int i = 0; i < pages; ++i) {
    auto [status, body] = m.http->request(
        boost::beast::http::verb::get,
        "/api/workflows?limit=1000" + (token.empty() ? "" : "&page_token=" + token), m.token);
    if (status != 200)
      throw std::runtime_error("GET /api/workflows: " + std::to_string(status) + " " + body);
    token = json::parse(body).value("next_page_token", std::string{});
    if (token.empty())
      break;
  }
  return token;
}

void memory_rows(Rows& rows, Mediator& m, const char* when) {
  const auto [rss, hwm] = memory_kib(m.process->pid());
  rows.emplace_back(std::string("mediator VmRSS ") + when, fmt(rss / 1024.0, "MiB"));
  rows.emplace_back(std::string("mediator VmHWM ") + when, fmt(hwm / 1024.0, "MiB"));
}

void startup_rows(Rows& rows, const Mediator& m) {
  rows.emplace_back("start-up: recovery done (log line)", fmt(m.recovered_ms, "ms", 0));
  rows.emplace_back("start-up: GET /readyz answers 200", fmt(m.ready_ms, "ms", 0));
}

/// Workflows whose view is measured: numbers `from`..`to` of the finished ones.
struct ViewRange {
  std::string label;
  long from = 1;
  long to = 1;
};

void list_rows(Rows& rows, const Options& opt, Mediator& m) {
  const int n = opt.requests;
  const std::string list = "GET /api/workflows";
  auto fixed = [](const std::string& target) { return [target](int) { return target; }; };
  rows.emplace_back(list + " (first page, 50)", timed_gets(m, n, fixed("/api/workflows")));
  rows.emplace_back(list + "?status=completed",
                    timed_gets(m, n, fixed("/api/workflows?status=completed")));
  rows.emplace_back(list + "?status=failed (none)",
                    timed_gets(m, n, fixed("/api/workflows?status=failed")));
  rows.emplace_back(list + "?status=running",
                    timed_gets(m, n, fixed("/api/workflows?status=running")));
  rows.emplace_back(list + "?definition=" + kFive,
                    timed_gets(m, n, fixed(std::string("/api/workflows?definition=") + kFive)));
  rows.emplace_back(list + "?definition=" + kParked,
                    timed_gets(m, n, fixed(std::string("/api/workflows?definition=") + kParked)));
  const std::string token = deep_token(m, 20);
  if (!token.empty()) {
    rows.emplace_back(list + "?page_token= (20,000 deep)",
                      timed_gets(m, n, fixed("/api/workflows?page_token=" + token)));
  }
}

void view_rows(Rows& rows, const Options& opt, Mediator& m, const std::vector<ViewRange>& views) {
  std::mt19937_64 rng(42);
  for (const auto& v : views) {
    std::uniform_int_distribution<long> pick(v.from, v.to);
    int other = 0;
    const std::string figures = timed_gets(
        m, opt.requests, [&](int) { return "/api/workflows/" + numbered("hist", pick(rng)); }, 200,
        &other);
    rows.emplace_back("GET /api/workflows/{id}, " + v.label,
                      figures + (other > 0 ? " (" + std::to_string(other) + " not 200)" : ""));
  }
}

/// Start-up, queries and memory of a mediator started afresh on the journal.
Rows measure(const Options& opt, const fs::path& dir, Probe& probe,
             const std::map<std::string, std::string>& env, const std::string& name,
             const std::vector<ViewRange>& views) {
  Rows rows = probe.sizes();
  auto m = start_mediator(opt, dir, env, name);
  startup_rows(rows, *m);
  rows.emplace_back("  recovery's log line", m->resumed.empty() ? "(none)" : m->resumed);
  memory_rows(rows, *m, "after start");
  list_rows(rows, opt, *m);
  view_rows(rows, opt, *m, views);
  memory_rows(rows, *m, "after the queries");
  m->process->stop(std::chrono::seconds(30));
  return rows;
}

/// Starts a mediator with retention on and waits until `workflows` holds no finished workflow
/// older than the retention age. The sweep's duration in seconds, or nullopt after the timeout.
std::optional<double> sweep(const Options& opt, const fs::path& dir, Probe& probe,
                            std::map<std::string, std::string> env, Rows& rows) {
  const std::int64_t cutoff = now_ms() - opt.retention_days * kDayMs;
  const long due = probe.finished_before(cutoff);
  rows.emplace_back("finished workflows older than the retention age", std::to_string(due));
  env["WONDERLAND_RETENTION_DAYS"] = std::to_string(opt.retention_days);
  env["WONDERLAND_RETENTION_INTERVAL_MS"] = "1000";
  const auto t0 = Clock::now();
  auto m = start_mediator(opt, dir, env, "mediator-retention");
  std::optional<double> took;
  long left = due;
  const auto deadline = t0 + std::chrono::seconds(opt.retention_timeout_s);
  while (Clock::now() < deadline) {
    if (m->process->exited()) {
      rows.emplace_back("the mediator with retention exited", m->process->how());
      std::fprintf(stderr, "the mediator with retention exited (%s):\n%s\n",
                   m->process->how().c_str(), m->process->log().c_str());
      break;
    }
    left = probe.finished_before(cutoff);
    if (left == 0) {
      took = std::chrono::duration<double>(Clock::now() - t0).count();
      break;
    }
    std::fprintf(stderr, "\r  retention: %ld of %ld left", left, due);
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
  std::fprintf(stderr, "\n");
  memory_rows(rows, *m, "during/after the sweep");
  m->process->stop(std::chrono::seconds(30));
  rows.emplace_back("retention sweep (mediator start to none left)",
                    took ? fmt(*took, "s")
                         : "did not end in " + std::to_string(opt.retention_timeout_s) + " s (" +
                               std::to_string(left) + " left)");
  const long archived = probe.archived();
  rows.emplace_back("archived_workflows rows",
                    archived < 0 ? "(no such table)" : std::to_string(archived));
  return took;
}

void print_table(const Rows& before, const Rows& after, bool with_after) {
  std::vector<std::string> labels;
  std::map<std::string, std::pair<std::string, std::string>> cells;
  for (const auto& [k, v] : before) {
    labels.push_back(k);
    cells[k].first = v;
  }
  for (const auto& [k, v] : after) {
    if (cells.count(k) == 0)
      labels.push_back(k);
    cells[k].second = v;
  }
  std::printf("| %-52s | %-24s |%s\n", "figure", "full history",
              with_after ? " after retention          |" : "");
  std::printf("|%s|%s|%s\n", std::string(54, '-').c_str(), std::string(26, '-').c_str(),
              with_after ? std::string(26, '-').append("|").c_str() : "");
  for (const auto& k : labels) {
    const auto& [b, a] = cells[k];
    if (with_after)
      std::printf("| %-52s | %-24s | %-24s |\n", k.c_str(), b.c_str(), a.c_str());
    else
      std::printf("| %-52s | %-24s |\n", k.c_str(), b.c_str());
  }
}

void write_definitions(const fs::path& dir) {
  fs::create_directories(dir / "definitions");
  std::ofstream(dir / "definitions" / "history_five.json") << five_steps().dump(2);
  std::ofstream(dir / "definitions" / "history_signal.json") << signal_steps().dump(2);
}

/// A mediator on an empty journal: the reference for start-up time and memory.
Rows empty_journal(const Options& opt, const fs::path& dir) {
  const std::string schema = opt.journal_schema + "_empty";
  auto m = start_mediator(opt, dir, journal_env(opt, dir / "empty.db", schema), "mediator-empty");
  Rows rows;
  rows.emplace_back("empty journal: GET /readyz answers 200", fmt(m->ready_ms, "ms", 0));
  const auto [rss, hwm] = memory_kib(m->process->pid());
  rows.emplace_back("empty journal: mediator VmRSS after start", fmt(rss / 1024.0, "MiB"));
  m->process->stop(std::chrono::seconds(30));
  if (opt.sqlite()) {
    for (const char* suffix : {"", "-wal", "-shm", ".lock"})
      fs::remove(dir / (std::string("empty.db") + suffix));
  } else {
    pqxx::connection c(opt.journal_url);
    pqxx::work tx(c);
    tx.exec("DROP SCHEMA IF EXISTS " + c.quote_name(schema) + " CASCADE");
    tx.commit();
  }
  return rows;
}

Rows fill(const Options& opt, const fs::path& journal) {
  Rows rows;
  std::fprintf(stderr, "running one workflow of each definition through the engine...\n");
  const Templates t = make_templates();
  rows.emplace_back("records per finished five-step workflow",
                    std::to_string(t.finished.records.size()));
  rows.emplace_back("records per running (parked) workflow",
                    std::to_string(t.parked.records.size()));
  if (opt.reuse)
    return rows;
  std::fprintf(stderr, "filling the journal...\n");
  const auto t0 = Clock::now();
  if (opt.sqlite())
    fill_sqlite(opt, t, journal);
  else
    fill_postgres(opt, t);
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  rows.emplace_back("fill time", fmt(s, "s"));
  rows.emplace_back("fill rate", fmt(static_cast<double>(opt.workflows) / s, "workflows/s", 0));
  return rows;
}

int run(const Options& opt) {
  fs::path dir = opt.dir;
  if (dir.empty()) {
    std::string tmpl = (fs::temp_directory_path() / "history-bench-XXXXXX").string();
    if (!::mkdtemp(tmpl.data()))
      throw std::runtime_error("mkdtemp failed");
    dir = tmpl;
  }
  fs::create_directories(dir);
  write_definitions(dir);
  const fs::path journal = dir / "journal.db";
  std::unique_ptr<Probe> probe;
  if (opt.sqlite())
    probe = std::make_unique<SqliteProbe>(journal);
  std::printf(
      "History benchmark: %ld finished five-step workflows over 60 days and %ld running "
      "ones,\n%s journal%s%s, mediator %s.\n\n",
      opt.workflows, opt.running, opt.sqlite() ? "SQLite" : "PostgreSQL",
      opt.sqlite() ? " " : " schema ", opt.sqlite() ? journal.c_str() : opt.journal_schema.c_str(),
      opt.mediator.c_str());
  Rows before = fill(opt, journal);
  if (!probe)
    probe = std::make_unique<PgProbe>(opt.journal_url, opt.journal_schema);
  const auto env = journal_env(opt, journal, opt.journal_schema);
  const auto empty = empty_journal(opt, dir);
  before.insert(before.end(), empty.begin(), empty.end());
  const auto measured = measure(opt, dir, *probe, env, "mediator-history",
                                {{"random over the whole history", 1, opt.workflows}});
  before.insert(before.end(), measured.begin(), measured.end());
  Rows after;
  bool with_after = false;
  if (opt.retention_days > 0) {
    const double kept = static_cast<double>(opt.retention_days) * kDayMs / kSpanMs;
    const long cut = opt.workflows - static_cast<long>(kept * static_cast<double>(opt.workflows));
    auto with_retention = env;
    with_retention["WONDERLAND_RETENTION_DAYS"] = std::to_string(opt.retention_days);
    if (sweep(opt, dir, *probe, env, after)) {
      with_after = true;
      const auto again =
          measure(opt, dir, *probe, with_retention, "mediator-after-retention",
                  {{"random archived (older than D days)", 1, std::max(1L, cut - 100)},
                   {"random hot (younger than D days)", std::min(opt.workflows, cut + 100),
                    opt.workflows}});
      after.insert(after.end(), again.begin(), again.end());
    } else {
      std::printf("The retention sweep did not end within %d s: no figures after retention.\n\n",
                  opt.retention_timeout_s);
    }
  }
  print_table(before, with_after ? after : Rows{}, with_after);
  if (!with_after && !after.empty()) {
    std::printf("\nRetention:\n");
    print_table(after, {}, false);
  }
  if (!opt.keep && opt.dir.empty())
    fs::remove_all(dir);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"What a large finished history costs a wonderland-mediator"};
  Options opt;
  const char* env_url = std::getenv("WONDERLAND_AMQP_URL");
  opt.url = env_url != nullptr ? env_url : "amqp://guest:guest@127.0.0.1:5672/";
  opt.mediator = HISTORY_BENCH_MEDIATOR;
  app.add_option("--url", opt.url, "broker URL (default: $WONDERLAND_AMQP_URL)");
  app.add_option("--workflows", opt.workflows, "finished five-step workflows in the journal")
      ->check(CLI::Range(1L, 99999999L));
  app.add_option("--running", opt.running, "running workflows, parked on a signal step")
      ->check(CLI::Range(0L, 99999999L));
  app.add_option("--journal-url", opt.journal_url,
                 "a PostgreSQL journal at this postgresql:// URL instead of SQLite");
  app.add_option("--journal-schema", opt.journal_schema,
                 "the PostgreSQL journal's schema (dropped and filled again unless --reuse)");
  app.add_option("--dir", opt.dir,
                 "where the SQLite journal, definitions and logs go (default: a new temporary "
                 "folder, deleted at the end)");
  app.add_flag("--reuse", opt.reuse, "use the journal a previous run filled (same counts)");
  app.add_flag("--keep", opt.keep, "keep the temporary folder");
  app.add_option("--port", opt.port, "the mediator's HTTP port")->check(CLI::Range(1, 65535));
  app.add_option("--requests", opt.requests, "requests per measured query")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--retention-days", opt.retention_days,
                 "then restart with WONDERLAND_RETENTION_DAYS=D and measure again (0: skip)")
      ->check(CLI::Range(0, 59));
  app.add_option("--retention-timeout", opt.retention_timeout_s,
                 "seconds to wait for the retention sweep")
      ->check(CLI::PositiveNumber);
  app.add_option("--mediator", opt.mediator, "the wonderland-mediator binary");
  CLI11_PARSE(app, argc, argv);
  if (opt.reuse && opt.sqlite() && opt.dir.empty()) {
    std::fprintf(stderr, "--reuse with a SQLite journal needs --dir\n");
    return 64;
  }
  try {
    return run(opt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "benchmark failed: %s\n", e.what());
    return 1;
  }
}
