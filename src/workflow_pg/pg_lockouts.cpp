#include "wonderland/workflow_pg/pg_lockouts.hpp"

#include <algorithm>
#include <mutex>

#include "pg_connection.hpp"

namespace wonderland::workflow {
namespace {

constexpr std::uint64_t kSweepEvery = 1024;

constexpr const char* kTable = R"sql(
CREATE TABLE IF NOT EXISTS throttle_failures (
  scope        text NOT NULL,
  key          text NOT NULL,
  failures     bigint NOT NULL,
  last_at      timestamptz NOT NULL,
  locked_until timestamptz NOT NULL,
  PRIMARY KEY (scope, key)
)
)sql";

/// The lock-out that starts with the `failures`-th failure (LockoutPolicy::lockout_after): none
/// while free ($3), then $4 ms doubling per failure up to $5 ms.
std::string lockout(const std::string& failures) {
  return "(CASE WHEN " + failures + " <= $3::bigint THEN 0 ELSE LEAST($5::float8, $4::float8 * " +
         "power(2::float8, LEAST(" + failures + " - $3::bigint - 1, 60))) END) * interval " +
         "'1 millisecond'";
}

std::string attempt_sql() {
  const std::string locked = "now() < t.locked_until";
  const std::string failures =
      "(CASE WHEN now() - t.last_at >= $6::float8 * interval '1 millisecond' THEN 1 ELSE "
      "t.failures + 1 END)";
  // A refused attempt leaves the row as it was, so last_at = now() tells an admitted one.
  return "INSERT INTO throttle_failures AS t (scope, key, failures, last_at, locked_until) "
         "VALUES ($1, $2, 1, now(), now() + " +
         lockout("1") +
         ") ON CONFLICT (scope, key) DO UPDATE SET "
         "failures = CASE WHEN " +
         locked + " THEN t.failures ELSE " + failures + " END, last_at = CASE WHEN " + locked +
         " THEN t.last_at ELSE now() END, locked_until = CASE WHEN " + locked +
         " THEN t.locked_until ELSE now() + " + lockout(failures) +
         " END RETURNING t.last_at = now(), "
         "ceil(extract(epoch FROM (t.locked_until - now())) * 1000)::bigint";
}

std::string forgive_sql() {
  return "WITH gone AS (DELETE FROM throttle_failures WHERE scope = $1 AND key = $2 AND "
         "failures <= 1) UPDATE throttle_failures SET failures = failures - 1, locked_until = "
         "last_at + " +
         lockout("(failures - 1)") + " WHERE scope = $1 AND key = $2 AND failures > 1";
}

}  // namespace

struct PgLockouts::Impl {
  explicit Impl(PgLockoutOptions o)
      : options(std::move(o)),
        conn(options.url, options.schema, "wl-throttle " + options.scope),
        attempt(attempt_sql()),
        forgive(forgive_sql()) {}

  /// The connection, with the table created on its first use.
  pqxx::connection& ready() {
    pqxx::connection& c = conn.get();
    if (!table_ready) {
      pqxx::work tx(c);
      tx.exec_params("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                     "wonderland.workflow.journal:" + options.schema);
      if (!options.schema.empty())
        tx.exec("CREATE SCHEMA IF NOT EXISTS " + tx.quote_name(options.schema));
      tx.exec(kTable);
      tx.commit();
      table_ready = true;
    }
    return c;
  }

  double ms(std::chrono::milliseconds d) const { return static_cast<double>(d.count()); }
  std::int64_t free_failures() const { return static_cast<std::int64_t>(options.free_failures); }

  PgLockoutOptions options;
  std::mutex mutex;
  pg::Connection conn;
  bool table_ready = false;
  std::uint64_t calls = 0;
  const std::string attempt;
  const std::string forgive;
};

Result<std::unique_ptr<PgLockouts>> PgLockouts::create(PgLockoutOptions options) {
  if (options.scope.empty())
    return Error::of(codes::kInvalidArgument, "throttle: the scope is empty");
  if (!options.schema.empty() && !pg::valid_schema_name(options.schema)) {
    return Error::of(codes::kInvalidArgument,
                     "throttle: '" + options.schema + "' is not an acceptable schema name");
  }
  return std::make_unique<PgLockouts>(std::make_unique<Impl>(std::move(options)));
}

PgLockouts::PgLockouts(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PgLockouts::~PgLockouts() = default;

Result<PgLockoutVerdict> PgLockouts::attempt(const std::string& key) {
  Impl& m = *impl_;
  std::unique_lock lock(m.mutex);
  auto verdict = pg::guarded(m.conn, "throttle attempt", [&]() -> Result<PgLockoutVerdict> {
    pqxx::work tx(m.ready());
    auto row = tx.exec_params1(m.attempt, m.options.scope, key, m.free_failures(),
                               m.ms(m.options.base_lockout), m.ms(m.options.max_lockout),
                               m.ms(m.options.forget_after));
    tx.commit();
    if (row[0].as<bool>())
      return PgLockoutVerdict{};
    const auto wait = std::max<std::int64_t>(1, row[1].as<std::int64_t>());
    return PgLockoutVerdict{false, std::chrono::milliseconds(wait)};
  });
  const bool sweep_now = verdict.ok() && ++m.calls % kSweepEvery == 0;
  lock.unlock();
  if (sweep_now)
    (void)sweep();  // an error was logged; the rows go with a later sweep
  return verdict;
}

Status PgLockouts::forgive(const std::string& key) {
  Impl& m = *impl_;
  std::lock_guard lock(m.mutex);
  return pg::guarded(m.conn, "throttle forgive", [&]() -> Status {
    pqxx::work tx(m.ready());
    tx.exec_params(m.forgive, m.options.scope, key, m.free_failures(), m.ms(m.options.base_lockout),
                   m.ms(m.options.max_lockout));
    tx.commit();
    return ok_status();
  });
}

Status PgLockouts::reset(const std::string& key) {
  Impl& m = *impl_;
  std::lock_guard lock(m.mutex);
  return pg::guarded(m.conn, "throttle reset", [&]() -> Status {
    pqxx::work tx(m.ready());
    tx.exec_params("DELETE FROM throttle_failures WHERE scope = $1 AND key = $2", m.options.scope,
                   key);
    tx.commit();
    return ok_status();
  });
}

Result<std::int64_t> PgLockouts::sweep() {
  Impl& m = *impl_;
  std::lock_guard lock(m.mutex);
  return pg::guarded(m.conn, "throttle sweep", [&]() -> Result<std::int64_t> {
    pqxx::work tx(m.ready());
    auto gone = tx.exec_params(
        "DELETE FROM throttle_failures WHERE scope = $1 AND locked_until <= now() AND last_at <= "
        "now() - $2::float8 * interval '1 millisecond'",
        m.options.scope, m.ms(m.options.forget_after));
    tx.commit();
    return static_cast<std::int64_t>(gone.affected_rows());
  });
}

}  // namespace wonderland::workflow
