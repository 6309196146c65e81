#include "sqlite.hpp"

#include <sqlite3.h>

#include <exception>

#include "wonderland/common/private_files.hpp"

namespace wonderland::workflow::sqlite {

void Database::Closer::operator()(sqlite3* db) const {
  sqlite3_close_v2(db);
}
void Statement::Finalizer::operator()(sqlite3_stmt* stmt) const {
  sqlite3_finalize(stmt);
}

Result<Database> Database::open(const std::string& path, bool create) {
  // The journal holds customer data: the file and its -wal and -shm are private (0600), and the
  // directories created for it 0700. SQLite gives the -wal and -shm it creates the mode of the
  // database file; files left by an older version are tightened here.
  if (!path.empty() && path != ":memory:" && path.rfind("file:", 0) != 0) {
    try {
      files::make_private_file(path, create);
      files::tighten_if_exists(path + "-wal");
      files::tighten_if_exists(path + "-shm");
    } catch (const std::exception& e) {
      return Error::of(codes::kUnavailable, "cannot open " + path + ": " + e.what());
    }
  }
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Database db(raw);  // owns the handle even when opening failed
  if (rc != SQLITE_OK) {
    return Error::of(codes::kUnavailable,
                     "cannot open " + path + ": " + (raw ? sqlite3_errmsg(raw) : "out of memory"));
  }
  sqlite3_busy_timeout(raw, 5000);
  sqlite3_extended_result_codes(raw, 1);
  return db;
}

Status Database::exec(const char* sql) {
  char* msg = nullptr;
  int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, &msg);
  if (rc == SQLITE_OK)
    return ok_status();
  std::string text = msg ? msg : sqlite3_errstr(rc);
  sqlite3_free(msg);
  return Error::of((rc & 0xff) == SQLITE_BUSY ? codes::kUnavailable : codes::kInternal,
                   "sqlite: " + text);
}

Result<Statement> Database::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_.get(), sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK)
    return error("prepare");
  return Statement(db_.get(), stmt);
}

std::int64_t Database::last_insert_rowid() const {
  return sqlite3_last_insert_rowid(db_.get());
}

Error Database::error(std::string_view what) const {
  int rc = sqlite3_errcode(db_.get());
  return Error::of((rc & 0xff) == SQLITE_BUSY ? codes::kUnavailable : codes::kInternal,
                   "sqlite " + std::string(what) + ": " + sqlite3_errmsg(db_.get()));
}

Statement& Statement::bind(int index, std::int64_t value) {
  sqlite3_bind_int64(stmt_.get(), index, value);
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  // A default string_view has no data pointer, which SQLite would bind as NULL.
  sqlite3_bind_text(stmt_.get(), index, text.data() ? text.data() : "",
                    static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::bind_static(int index, std::string_view text) {
  sqlite3_bind_text(stmt_.get(), index, text.data() ? text.data() : "",
                    static_cast<int>(text.size()), SQLITE_STATIC);
  return *this;
}

Statement& Statement::bind_null(int index) {
  sqlite3_bind_null(stmt_.get(), index);
  return *this;
}

Statement& Statement::bind(int index, const std::optional<std::string>& text) {
  return text ? bind(index, std::string_view(*text)) : bind_null(index);
}

Result<bool> Statement::step() {
  int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW)
    return true;
  if (rc == SQLITE_DONE)
    return false;
  return Error::of((rc & 0xff) == SQLITE_BUSY ? codes::kUnavailable : codes::kInternal,
                   std::string("sqlite step: ") + sqlite3_errmsg(db_));
}

void Statement::reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
}

std::int64_t Statement::column_int(int index) const {
  return sqlite3_column_int64(stmt_.get(), index);
}

std::string Statement::column_text(int index) const {
  const unsigned char* text = sqlite3_column_text(stmt_.get(), index);
  int n = sqlite3_column_bytes(stmt_.get(), index);
  return text ? std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(n))
              : std::string();
}

bool Statement::column_is_null(int index) const {
  return sqlite3_column_type(stmt_.get(), index) == SQLITE_NULL;
}

Transaction::~Transaction() {
  if (open_)
    (void)db_.exec("ROLLBACK");
}

Status Transaction::begin() {
  auto st = db_.exec("BEGIN IMMEDIATE");
  open_ = st.ok();
  return st;
}

Status Transaction::commit() {
  auto st = db_.exec("COMMIT");
  if (st.ok())
    open_ = false;
  return st;
}

}  // namespace wonderland::workflow::sqlite
