#include "wonderland/testing/postgres.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <pqxx/pqxx>
#include <stdexcept>

#include "wonderland/common/ids.hpp"

namespace wonderland::testing {

std::string pg_url() {
  const char* url = std::getenv("WONDERLAND_PG_URL");
  if (url == nullptr || *url == '\0') {
    ADD_FAILURE() << "WONDERLAND_PG_URL is not set: run the tests through scripts/test.sh";
    return "postgresql://wonderland:wonderland@127.0.0.1:5432/wonderland";
  }
  return url;
}

ScopedSchema::ScopedSchema(const std::string& prefix)
    : url_(pg_url()), name_(prefix + "_" + fast_random_hex(8)) {
  for (char c : name_) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      throw std::invalid_argument("schema prefix '" + prefix + "' is not [a-z0-9_]");
    }
  }
  pqxx::connection conn(url_);
  pqxx::work tx(conn);
  tx.exec("CREATE SCHEMA " + tx.quote_name(name_));
  tx.commit();
}

ScopedSchema::~ScopedSchema() {
  try {
    pqxx::connection conn(url_);
    pqxx::work tx(conn);
    tx.exec("DROP SCHEMA IF EXISTS " + tx.quote_name(name_) + " CASCADE");
    tx.commit();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "could not drop schema " << name_ << ": " << e.what();
  }
}

}  // namespace wonderland::testing
