#include "wonderland/common/postgres_url.hpp"

#include <gtest/gtest.h>

namespace wonderland {
namespace {

TEST(PostgresUrlTest, ConnectTimeoutIsAddedUnlessSet) {
  EXPECT_EQ(with_connect_timeout("postgresql://u:p@h:1/d", 5),
            "postgresql://u:p@h:1/d?connect_timeout=5");
  EXPECT_EQ(with_connect_timeout("postgresql://u:p@h:1/d?sslmode=disable", 5),
            "postgresql://u:p@h:1/d?sslmode=disable&connect_timeout=5");
  // The unix socket form that scripts/run.sh gives its processes.
  EXPECT_EQ(with_connect_timeout("postgresql://u:p@/d?host=/var/run/pg&port=5432", 5),
            "postgresql://u:p@/d?host=/var/run/pg&port=5432&connect_timeout=5");
  EXPECT_EQ(with_connect_timeout("host=h dbname=d", 3), "host=h dbname=d connect_timeout=3");
  EXPECT_EQ(with_connect_timeout("", 3), "connect_timeout=3");
  EXPECT_EQ(with_connect_timeout("postgres://h/d?connect_timeout=9", 5),
            "postgres://h/d?connect_timeout=9");
}

}  // namespace
}  // namespace wonderland
