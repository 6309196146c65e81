// Test support for PostgreSQL: where the harness's database is, and a schema of one's own.
#pragma once

#include <string>

namespace wonderland::testing {

/// The database the test harness started (WONDERLAND_PG_URL). Fails the calling test when the
/// variable is unset, so that a suite run without a database cannot pass silently.
std::string pg_url();

/// A schema with a unique name (`<prefix>_<16 hex>`), created on construction and dropped with
/// everything in it on destruction, so that tests sharing one database do not see each other.
class ScopedSchema {
 public:
  /// `prefix`: lower-case letters, digits and '_' (it starts the schema name).
  explicit ScopedSchema(const std::string& prefix = "test");
  ~ScopedSchema();
  ScopedSchema(const ScopedSchema&) = delete;
  ScopedSchema& operator=(const ScopedSchema&) = delete;

  const std::string& name() const { return name_; }
  const std::string& url() const { return url_; }

 private:
  std::string url_;
  std::string name_;
};

}  // namespace wonderland::testing
