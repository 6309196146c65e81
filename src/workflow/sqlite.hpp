// A small RAII wrapper over the SQLite C API. No raw sqlite3 handle leaves this wrapper.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "wonderland/common/error.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace wonderland::workflow::sqlite {

class Statement;

/// One connection. Not thread-safe: use it from one thread at a time.
class Database {
 public:
  /// Opens (creating when `create`) the database file, with a busy timeout.
  static Result<Database> open(const std::string& path, bool create);

  Database(Database&&) noexcept = default;
  Database& operator=(Database&&) noexcept = default;

  /// Runs SQL without results (may contain several statements).
  Status exec(const char* sql);
  Result<Statement> prepare(std::string_view sql);
  std::int64_t last_insert_rowid() const;
  /// An `internal` (or `unavailable` when busy) error with the connection's last message.
  Error error(std::string_view what) const;

 private:
  struct Closer {
    void operator()(sqlite3* db) const;
  };
  explicit Database(sqlite3* db) : db_(db) {}
  std::unique_ptr<sqlite3, Closer> db_;
  friend class Statement;
};

/// A prepared statement. Bind indices are 1-based, column indices 0-based.
class Statement {
 public:
  Statement(Statement&&) noexcept = default;
  Statement& operator=(Statement&&) noexcept = default;

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, std::string_view text);
  /// Binds text without copying it: `text` must stay valid until the next reset().
  Statement& bind_static(int index, std::string_view text);
  Statement& bind_null(int index);
  /// Binds text, or null when absent.
  Statement& bind(int index, const std::optional<std::string>& text);

  /// Steps: true when a row is available, false when done.
  Result<bool> step();
  /// Resets for another execution and clears the bindings.
  void reset();

  std::int64_t column_int(int index) const;
  std::string column_text(int index) const;
  bool column_is_null(int index) const;

 private:
  struct Finalizer {
    void operator()(sqlite3_stmt* stmt) const;
  };
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
  friend class Database;
};

/// Runs `BEGIN IMMEDIATE` and rolls back on destruction unless commit() succeeded.
class Transaction {
 public:
  explicit Transaction(Database& db) : db_(db) {}
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  Status begin();
  Status commit();

 private:
  Database& db_;
  bool open_ = false;
};

}  // namespace wonderland::workflow::sqlite
