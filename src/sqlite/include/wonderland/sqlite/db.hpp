// RAII over the SQLite3 C API. No sqlite3* or sqlite3_stmt* leaves this component.
//
//   sqlite::Db db(path);                       // WAL, foreign keys, busy timeout
//   sqlite::Transaction tx(db);                // BEGIN IMMEDIATE; rolls back unless committed
//   db.prepare("INSERT INTO t(a, b) VALUES (?, ?)").bind(1, "x").bind(2, 42).step();
//   tx.commit();
//
// SQL is always parameterised: values go through bind(), never into the SQL text.
// A Db is not thread-safe; give each thread its own, or guard it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace wonderland::sqlite {

/// A failed SQLite call. `code` is SQLite's extended result code.
class SqliteError : public std::runtime_error {
 public:
  SqliteError(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
  int code() const noexcept { return code_; }
  /// The database was locked or busy beyond the busy timeout (retryable).
  bool busy() const noexcept;
  /// A UNIQUE, PRIMARY KEY or CHECK constraint failed.
  bool constraint() const noexcept;

 private:
  int code_;
};

class Db;

/// A prepared statement. Bind indexes start at 1; column indexes at 0.
class Statement {
 public:
  Statement(Statement&&) noexcept;
  Statement& operator=(Statement&&) noexcept;
  ~Statement();

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, const std::string& value) {
    return bind(index, std::string_view(value));
  }
  /// Binds text without copying it (for large values): `value` must stay valid until reset() or
  /// the Statement's destruction, which clear the bindings.
  Statement& bind_static(int index, std::string_view value);
  Statement& bind_null(int index);
  template <class T>
  Statement& bind(int index, const std::optional<T>& value) {
    return value ? bind(index, *value) : bind_null(index);
  }

  /// Advances; returns true while a row is available.
  bool step();
  /// Resets for re-execution with new bindings (bindings are cleared).
  void reset();

  bool is_null(int column) const;
  std::int64_t int64(int column) const;
  double real(int column) const;
  std::string text(int column) const;
  std::optional<std::string> optional_text(int column) const;

  /// Rows changed by the last step of an INSERT, UPDATE or DELETE.
  int changes() const;

 private:
  friend class Db;
  struct Impl;
  explicit Statement(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct Options {
  /// Wait this long for a lock held by another connection before failing with busy().
  std::chrono::milliseconds busy_timeout{5000};
  /// `NORMAL` is durable against process crashes in WAL mode (not against power loss);
  /// `FULL` also survives power loss.
  std::string synchronous = "NORMAL";
  /// Create the file when it does not exist; false: opening a missing file fails.
  bool create = true;
};

/// An open database in WAL mode with foreign keys on.
class Db {
 public:
  explicit Db(const std::string& path, const Options& options = {});
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  /// Runs one or more statements that take no parameters (schema, pragmas).
  void exec(const std::string& sql);
  /// A prepared statement of one SQL text. Statements are pooled: when a Statement is destroyed
  /// it is reset and kept, and the next prepare() of the same text reuses it instead of parsing
  /// it again. The Db may be destroyed first (the statement is then finalized).
  Statement prepare(std::string_view sql);
  std::int64_t last_insert_rowid() const;
  const std::string& path() const { return path_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string path_;
};

/// BEGIN IMMEDIATE on construction; ROLLBACK on destruction unless commit() was called.
class Transaction {
 public:
  explicit Transaction(Db& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Db& db_;
  bool done_ = false;
};

}  // namespace wonderland::sqlite
