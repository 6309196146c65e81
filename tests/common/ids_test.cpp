#include "wonderland/common/ids.hpp"

#include <gtest/gtest.h>

#include <set>

namespace wonderland {
namespace {

TEST(IdsTest, UuidsAreVersion4AndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    std::string id = new_uuid();
    ASSERT_TRUE(is_uuid(id)) << id;
    ASSERT_EQ(id[14], '4') << id;
    ASSERT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;
    ASSERT_TRUE(seen.insert(id).second) << id;
  }
}

TEST(IdsTest, RejectsNonUuids) {
  EXPECT_FALSE(is_uuid(""));
  EXPECT_FALSE(is_uuid("not-a-uuid"));
  EXPECT_FALSE(is_uuid("123e4567-e89b-12d3-a456-42661417400g"));
  EXPECT_TRUE(is_uuid("123E4567-E89B-12D3-A456-426614174000"));
}

TEST(IdsTest, NameBasedUuidsAreVersion8AndDependOnTheNameOnly) {
  // The first 16 bytes of SHA-256("c-1\nkey-1") with the version and variant bits set.
  EXPECT_EQ(name_based_uuid("c-1\nkey-1"), "3a018d53-b117-838d-85ca-dcaea51e1976");
  EXPECT_EQ(name_based_uuid("c-1\nkey-1"), name_based_uuid(std::string("c-1\nkey-1")));
  EXPECT_NE(name_based_uuid("c-1\nkey-1"), name_based_uuid("c-1\nkey-2"));
  EXPECT_TRUE(is_uuid(name_based_uuid("")));
}

TEST(IdsTest, RandomHexHasRequestedLength) {
  EXPECT_EQ(random_hex(16).size(), 32u);
  EXPECT_NE(random_hex(16), random_hex(16));
}

}  // namespace
}  // namespace wonderland
