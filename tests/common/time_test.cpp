#include "wonderland/common/time.hpp"

#include <gtest/gtest.h>

namespace wonderland {
namespace {

TEST(TimeTest, FormatsUtcWithMilliseconds) {
  SystemTime t{std::chrono::milliseconds(1764149172345)};
  EXPECT_EQ(format_iso8601(t), "2025-11-26T09:26:12.345Z");
}

TEST(TimeTest, ParsesWhatItFormats) {
  auto now =
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  auto parsed = parse_iso8601(format_iso8601(now));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, now);
  EXPECT_TRUE(parse_iso8601("2026-01-02T03:04:05Z"));
  EXPECT_TRUE(parse_iso8601("2026-01-02T03:04:05+00:00"));
  EXPECT_FALSE(parse_iso8601("2026-13-02T03:04:05Z"));
  EXPECT_FALSE(parse_iso8601("2026-01-02 03:04:05"));
  EXPECT_FALSE(parse_iso8601("2026-01-02T03:04:05+02:00"));
  // Outside what a SystemTime holds (1678 to 2261): refused, not overflowed.
  EXPECT_FALSE(parse_iso8601("4052-01-01T00:00:00Z"));
  EXPECT_FALSE(parse_iso8601("1000-01-01T00:00:00Z"));
  EXPECT_TRUE(parse_iso8601("2261-12-31T23:59:59Z"));
}

}  // namespace
}  // namespace wonderland
