// The proxies whose X-Forwarded-For the mediator believes (WONDERLAND_HTTP_TRUSTED_PROXIES):
// single addresses and whole networks, so that a balancer whose address a container network
// assigns at start can be named by that network's range.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace wonderland::mediator {

class ProxySet {
 public:
  ProxySet() = default;
  /// Entries are IPv4 or IPv6 addresses ("10.0.0.2", "::1") or networks in CIDR notation
  /// ("10.0.0.0/8", "fd00::/8"). Throws std::invalid_argument naming the first entry that is
  /// neither.
  explicit ProxySet(const std::vector<std::string>& entries);

  /// Whether `address` (an IP address without port) is one of the entries or in one of their
  /// networks. An IPv4 address written as IPv6 (::ffff:10.0.0.2) counts as the IPv4 address.
  bool contains(std::string_view address) const;
  bool empty() const noexcept { return networks_.empty(); }

 private:
  struct Network {
    std::array<unsigned char, 16> bytes{};
    unsigned prefix = 0;
    bool v6 = false;
  };
  std::vector<Network> networks_;
};

}  // namespace wonderland::mediator
