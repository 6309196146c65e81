#include "wonderland/sqlite/db.hpp"

#include <sqlite3.h>

#include <unordered_map>

#include "wonderland/common/private_files.hpp"

namespace wonderland::sqlite {
namespace {
[[noreturn]] void fail(sqlite3* db, int rc, const std::string& what) {
  std::string msg = what + ": " + (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  throw SqliteError(db != nullptr ? sqlite3_extended_errcode(db) : rc, msg);
}

/// A default string_view has no data pointer, which SQLite would bind as NULL: bind "" instead.
const char* text_data(std::string_view value) {
  return value.data() != nullptr ? value.data() : "";
}
}  // namespace

bool SqliteError::busy() const noexcept {
  int primary = code_ & 0xFF;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

bool SqliteError::constraint() const noexcept {
  return (code_ & 0xFF) == SQLITE_CONSTRAINT;
}

/// Prepared statements that are not in use, by SQL text: preparing (parsing and planning) costs
/// more than running most statements, and services run the same few statements again and again.
struct StatementPool {
  static constexpr std::size_t kMaxIdle = 128;
  std::unordered_multimap<std::string, sqlite3_stmt*> idle;
  StatementPool() = default;
  StatementPool(const StatementPool&) = delete;
  StatementPool& operator=(const StatementPool&) = delete;
  ~StatementPool() {
    for (auto& [sql, stmt] : idle)
      sqlite3_finalize(stmt);
  }
};

struct Statement::Impl {
  sqlite3* db = nullptr;
  sqlite3_stmt* stmt = nullptr;
  std::string sql;
  std::weak_ptr<StatementPool> pool;
  ~Impl() {
    if (stmt == nullptr)
      return;
    // Back to its database's pool, reset, unless the database is gone or the pool is full.
    if (auto p = pool.lock(); p && p->idle.size() < StatementPool::kMaxIdle) {
      sqlite3_reset(stmt);
      sqlite3_clear_bindings(stmt);
      p->idle.emplace(std::move(sql), stmt);
      return;
    }
    sqlite3_finalize(stmt);
  }
  void check(int rc, const char* what) {
    if (rc != SQLITE_OK)
      fail(db, rc, what);
  }
};

Statement::Statement(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Statement::Statement(Statement&&) noexcept = default;
Statement& Statement::operator=(Statement&&) noexcept = default;
Statement::~Statement() = default;

Statement& Statement::bind(int index, std::int64_t value) {
  impl_->check(sqlite3_bind_int64(impl_->stmt, index, value), "bind");
  return *this;
}
Statement& Statement::bind(int index, double value) {
  impl_->check(sqlite3_bind_double(impl_->stmt, index, value), "bind");
  return *this;
}
Statement& Statement::bind(int index, std::string_view value) {
  impl_->check(sqlite3_bind_text64(impl_->stmt, index, text_data(value), value.size(),
                                   SQLITE_TRANSIENT, SQLITE_UTF8),
               "bind");
  return *this;
}
Statement& Statement::bind_static(int index, std::string_view value) {
  impl_->check(sqlite3_bind_text64(impl_->stmt, index, text_data(value), value.size(),
                                   SQLITE_STATIC, SQLITE_UTF8),
               "bind");
  return *this;
}
Statement& Statement::bind_null(int index) {
  impl_->check(sqlite3_bind_null(impl_->stmt, index), "bind");
  return *this;
}

bool Statement::step() {
  int rc = sqlite3_step(impl_->stmt);
  if (rc == SQLITE_ROW)
    return true;
  if (rc == SQLITE_DONE)
    return false;
  std::string sql = sqlite3_sql(impl_->stmt) != nullptr ? sqlite3_sql(impl_->stmt) : "";
  sqlite3_reset(impl_->stmt);
  fail(impl_->db, rc, "step '" + sql.substr(0, 80) + "'");
}

void Statement::reset() {
  sqlite3_reset(impl_->stmt);
  sqlite3_clear_bindings(impl_->stmt);
}

bool Statement::is_null(int column) const {
  return sqlite3_column_type(impl_->stmt, column) == SQLITE_NULL;
}
std::int64_t Statement::int64(int column) const {
  return sqlite3_column_int64(impl_->stmt, column);
}
double Statement::real(int column) const {
  return sqlite3_column_double(impl_->stmt, column);
}
std::string Statement::text(int column) const {
  const auto* p = sqlite3_column_text(impl_->stmt, column);
  int n = sqlite3_column_bytes(impl_->stmt, column);
  return p == nullptr ? std::string()
                      : std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
}
std::optional<std::string> Statement::optional_text(int column) const {
  if (is_null(column))
    return std::nullopt;
  return text(column);
}
int Statement::changes() const {
  return sqlite3_changes(impl_->db);
}

struct Db::Impl {
  sqlite3* db = nullptr;
  std::shared_ptr<StatementPool> pool = std::make_shared<StatementPool>();
  ~Impl() {
    pool.reset();  // finalizes the idle statements first
    if (db != nullptr)
      sqlite3_close_v2(db);
  }
};

Db::Db(const std::string& path, const Options& options)
    : impl_(std::make_unique<Impl>()), path_(path) {
  // The database holds customer data: the file and its -wal and -shm are private (0600), and the
  // directories created for it 0700. SQLite gives the -wal and -shm it creates the mode of the
  // database file; files left by an older version are tightened here.
  const bool on_disk = !path.empty() && path != ":memory:" && path.rfind("file:", 0) != 0;
  if (on_disk) {
    files::make_private_file(path, options.create);
    files::tighten_if_exists(path + "-wal");
    files::tighten_if_exists(path + "-shm");
  }
  const int flags =
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (options.create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &impl_->db, flags, nullptr);
  if (rc != SQLITE_OK)
    fail(impl_->db, rc, "open " + path);
  sqlite3_extended_result_codes(impl_->db, 1);
  sqlite3_busy_timeout(impl_->db, static_cast<int>(options.busy_timeout.count()));
  if (options.synchronous != "NORMAL" && options.synchronous != "FULL" &&
      options.synchronous != "OFF") {
    throw std::invalid_argument("synchronous must be OFF, NORMAL or FULL");
  }
  exec("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=" +
       options.synchronous + ";");
  if (on_disk)
    files::tighten_if_exists(path + "-wal");
}

Db::~Db() = default;

void Db::exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(impl_->db, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err != nullptr ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    throw SqliteError(sqlite3_extended_errcode(impl_->db), "exec: " + msg);
  }
}

Statement Db::prepare(std::string_view sql) {
  auto impl = std::make_unique<Statement::Impl>();
  impl->db = impl_->db;
  impl->sql = std::string(sql);
  impl->pool = impl_->pool;
  if (auto it = impl_->pool->idle.find(impl->sql); it != impl_->pool->idle.end()) {
    impl->stmt = it->second;
    impl_->pool->idle.erase(it);
    return Statement(std::move(impl));
  }
  int rc =
      sqlite3_prepare_v2(impl_->db, sql.data(), static_cast<int>(sql.size()), &impl->stmt, nullptr);
  if (rc != SQLITE_OK)
    fail(impl_->db, rc, "prepare '" + std::string(sql.substr(0, 80)) + "'");
  return Statement(std::move(impl));
}

std::int64_t Db::last_insert_rowid() const {
  return sqlite3_last_insert_rowid(impl_->db);
}

Transaction::Transaction(Db& db) : db_(db) {
  db_.prepare("BEGIN IMMEDIATE").step();
}

Transaction::~Transaction() {
  if (!done_) {
    try {
      db_.prepare("ROLLBACK").step();
    } catch (...) {
      // Nothing to do: the connection rolls back by itself when the transaction is gone.
    }
  }
}

void Transaction::commit() {
  db_.prepare("COMMIT").step();
  done_ = true;
}

}  // namespace wonderland::sqlite
