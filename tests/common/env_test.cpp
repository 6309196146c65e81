#include "wonderland/common/env.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

namespace wonderland {
namespace {

TEST(EnvTest, FallsBackWhenUnsetOrEmpty) {
  ::unsetenv("WONDERLAND_TEST_X");
  EXPECT_EQ(env::get("WONDERLAND_TEST_X", "d"), "d");
  ::setenv("WONDERLAND_TEST_X", "", 1);
  EXPECT_EQ(env::get_int("WONDERLAND_TEST_X", 7), 7);
}

TEST(EnvTest, ParsesValuesAndNamesTheVariableOnError) {
  ::setenv("WONDERLAND_TEST_X", "12", 1);
  EXPECT_EQ(env::get_int("WONDERLAND_TEST_X", 0), 12);
  EXPECT_EQ(env::get_ms("WONDERLAND_TEST_X", std::chrono::milliseconds(0)).count(), 12);
  ::setenv("WONDERLAND_TEST_X", "yes", 1);
  EXPECT_TRUE(env::get_bool("WONDERLAND_TEST_X", false));
  ::setenv("WONDERLAND_TEST_X", "0.25", 1);
  EXPECT_DOUBLE_EQ(env::get_fraction("WONDERLAND_TEST_X", 0), 0.25);
  ::setenv("WONDERLAND_TEST_X", "12abc", 1);
  try {
    (void)env::get_int("WONDERLAND_TEST_X", 0);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("WONDERLAND_TEST_X"), std::string::npos);
  }
  ::setenv("WONDERLAND_TEST_X", "1.5", 1);
  EXPECT_THROW((void)env::get_fraction("WONDERLAND_TEST_X", 0), std::invalid_argument);
  ::unsetenv("WONDERLAND_TEST_X");
}

TEST(EnvTest, AnIntegerOutsideItsRangeIsRefusedWithTheRange) {
  ::setenv("WONDERLAND_TEST_X", "64", 1);
  EXPECT_EQ(env::get_int_in_range("WONDERLAND_TEST_X", 1, 1, 64), 64);
  ::setenv("WONDERLAND_TEST_X", "65", 1);
  try {
    (void)env::get_int_in_range("WONDERLAND_TEST_X", 1, 1, 64);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()),
              "environment variable WONDERLAND_TEST_X=65 is out of range 1..64");
  }
  ::unsetenv("WONDERLAND_TEST_X");
  EXPECT_EQ(env::get_int_in_range("WONDERLAND_TEST_X", 20, 0, 1000), 20);
}

}  // namespace
}  // namespace wonderland
