// Password hashing and session tokens.
#include "wonderland/customer/password.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <set>

#include "wonderland/customer/server.hpp"
#include "wonderland/testing/scoped_env.hpp"

namespace wonderland::customer {
namespace {

using wonderland::testing::ScopedEnv;

TEST(Password, HashIsArgon2idAndVerifies) {
  std::string hash = hash_password("correct horse", PasswordPolicy::for_tests());
  EXPECT_EQ(hash.rfind("$argon2id$", 0), 0u) << hash;
  EXPECT_EQ(hash.find("correct horse"), std::string::npos);
  EXPECT_TRUE(verify_password(hash, "correct horse"));
  EXPECT_FALSE(verify_password(hash, "correct horsE"));
  EXPECT_FALSE(verify_password("not a hash", "correct horse"));
  EXPECT_NE(hash_password("correct horse", PasswordPolicy::for_tests()), hash);  // salted
}

TEST(Password, DefaultPolicyIsTheOwaspBaseline) {
  PasswordPolicy p;
  EXPECT_EQ(p.opslimit, 2u);
  EXPECT_EQ(p.memlimit_bytes, 19456u * 1024u);
  std::string hash = hash_password("correct horse", p);
  EXPECT_EQ(hash.rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u) << hash;
  EXPECT_FALSE(needs_rehash(hash, p));
  EXPECT_TRUE(needs_rehash(hash, PasswordPolicy::for_tests()));
}

TEST(Password, PolicyComesFromTheEnvironment) {
  {
    ScopedEnv ops("WONDERLAND_ARGON2_OPSLIMIT", "3");
    ScopedEnv mem("WONDERLAND_ARGON2_MEMLIMIT_KIB", "65536");
    PasswordPolicy p = PasswordPolicy::from_env();
    EXPECT_EQ(p.opslimit, 3u);
    EXPECT_EQ(p.memlimit_bytes, 65536u * 1024u);
  }
  {
    ScopedEnv ops("WONDERLAND_ARGON2_OPSLIMIT", "0");
    EXPECT_THROW(PasswordPolicy::from_env(), std::invalid_argument);
  }
  {
    ScopedEnv mem("WONDERLAND_ARGON2_MEMLIMIT_KIB", "4");
    EXPECT_THROW(PasswordPolicy::from_env(), std::invalid_argument);
  }
}

TEST(Token, Is256RandomBitsAndStoredAsSha256) {
  std::set<std::string> tokens;
  for (int i = 0; i < 100; ++i) {
    std::string t = new_session_token();
    EXPECT_EQ(t.size(), 64u);
    EXPECT_EQ(t.find_first_not_of("0123456789abcdef"), std::string::npos);
    tokens.insert(t);
  }
  EXPECT_EQ(tokens.size(), 100u);
  EXPECT_EQ(token_digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Config, DefaultsAndEnvironment) {
  Config defaults = Config::from_env();
  EXPECT_EQ(defaults.schema, "customer");
  EXPECT_EQ(defaults.queue, "customer.commands");
  EXPECT_EQ(defaults.session_ttl, std::chrono::seconds(86400));
  EXPECT_GE(defaults.workers, 2u);
  {
    ScopedEnv schema("WONDERLAND_CUSTOMER_SCHEMA", "shop");
    ScopedEnv ttl("WONDERLAND_SESSION_TTL_S", "60");
    ScopedEnv workers("WONDERLAND_CUSTOMER_WORKERS", "2");
    Config c = Config::from_env();
    EXPECT_EQ(c.schema, "shop");
    EXPECT_EQ(c.session_ttl, std::chrono::seconds(60));
    EXPECT_EQ(c.workers, 2u);
  }
  {
    ScopedEnv schema("WONDERLAND_CUSTOMER_SCHEMA", "x; DROP TABLE y");
    EXPECT_THROW(Config::from_env(), std::invalid_argument);
  }
  {
    ScopedEnv ttl("WONDERLAND_SESSION_TTL_S", "0");
    EXPECT_THROW(Config::from_env(), std::invalid_argument);
  }
  {
    ScopedEnv workers("WONDERLAND_CUSTOMER_WORKERS", "many");
    EXPECT_THROW(Config::from_env(), std::invalid_argument);
  }
}

}  // namespace
}  // namespace wonderland::customer
