#include "wonderland/mediator/proxy_set.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace wonderland::mediator {
namespace {

TEST(ProxySet, SingleAddressesMatchOnlyThemselves) {
  ProxySet set({"10.0.0.2", "::1"});
  EXPECT_TRUE(set.contains("10.0.0.2"));
  EXPECT_FALSE(set.contains("10.0.0.3"));
  EXPECT_TRUE(set.contains("::1"));
  EXPECT_FALSE(set.contains("::2"));
  EXPECT_FALSE(set.contains("not an address"));
  EXPECT_FALSE(set.contains(""));
}

TEST(ProxySet, NetworksMatchEveryAddressInThemAndNoOther) {
  ProxySet set({"10.0.0.0/8", "172.16.0.0/12", "192.168.4.0/22", "fd00::/8"});
  EXPECT_TRUE(set.contains("10.89.0.7"));
  EXPECT_TRUE(set.contains("10.255.255.255"));
  EXPECT_FALSE(set.contains("11.0.0.1"));
  EXPECT_TRUE(set.contains("172.31.200.1"));
  EXPECT_FALSE(set.contains("172.32.0.1"));
  // A prefix that does not end on a byte boundary.
  EXPECT_TRUE(set.contains("192.168.7.255"));
  EXPECT_FALSE(set.contains("192.168.8.0"));
  EXPECT_FALSE(set.contains("192.168.3.255"));
  EXPECT_TRUE(set.contains("fd12:3456::1"));
  EXPECT_FALSE(set.contains("fe80::1"));
  // An IPv4 address written as IPv6 is that IPv4 address; no IPv4 network holds an IPv6 one.
  EXPECT_TRUE(set.contains("::ffff:10.1.2.3"));
  EXPECT_FALSE(set.contains("::a01:203"));
}

TEST(ProxySet, ZeroPrefixTrustsTheWholeFamily) {
  ProxySet set({"0.0.0.0/0"});
  EXPECT_TRUE(set.contains("203.0.113.9"));
  EXPECT_FALSE(set.contains("2001:db8::1"));
}

TEST(ProxySet, EntriesThatAreNoAddressOrNetworkAreRefusedByName) {
  for (const char* bad : {"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/8x", "10.0.0/8",
                          "balancer", "10.0.0.1/-1", "/8"}) {
    try {
      ProxySet set({bad});
      ADD_FAILURE() << bad << " was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace wonderland::mediator
