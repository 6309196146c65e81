#include "wonderland/mediator/proxy_set.hpp"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <charconv>
#include <optional>
#include <stdexcept>

namespace wonderland::mediator {
namespace {

struct Parsed {
  std::array<unsigned char, 16> bytes{};
  bool v6 = false;
};

/// The address's bytes, an IPv4-mapped IPv6 address as its IPv4 address; nullopt when `text`
/// is no IP address.
std::optional<Parsed> parse_address(std::string_view text) {
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(std::string(text), ec);
  if (ec)
    return std::nullopt;
  if (address.is_v6() && address.to_v6().is_v4_mapped())
    address = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6());
  Parsed out;
  out.v6 = address.is_v6();
  if (out.v6) {
    auto b = address.to_v6().to_bytes();
    std::copy(b.begin(), b.end(), out.bytes.begin());
  } else {
    auto b = address.to_v4().to_bytes();
    std::copy(b.begin(), b.end(), out.bytes.begin());
  }
  return out;
}

bool same_prefix(const std::array<unsigned char, 16>& a, const std::array<unsigned char, 16>& b,
                 unsigned prefix) {
  unsigned whole = prefix / 8;
  if (!std::equal(a.begin(), a.begin() + whole, b.begin()))
    return false;
  unsigned rest = prefix % 8;
  if (rest == 0)
    return true;
  auto mask = static_cast<unsigned char>(0xFFu << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

}  // namespace

ProxySet::ProxySet(const std::vector<std::string>& entries) {
  for (const std::string& entry : entries) {
    auto invalid = [&entry] {
      return std::invalid_argument("WONDERLAND_HTTP_TRUSTED_PROXIES: '" + entry +
                                   "' is neither an IP address nor a network like 10.0.0.0/8");
    };
    std::string_view text = entry;
    auto slash = text.find('/');
    auto parsed = parse_address(text.substr(0, slash));
    if (!parsed)
      throw invalid();
    unsigned bits = parsed->v6 ? 128 : 32;
    unsigned prefix = bits;
    if (slash != std::string_view::npos) {
      std::string_view digits = text.substr(slash + 1);
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
      if (ec != std::errc{} || end != digits.data() + digits.size() || digits.empty() ||
          prefix > bits)
        throw invalid();
    }
    networks_.push_back(Network{parsed->bytes, prefix, parsed->v6});
  }
}

bool ProxySet::contains(std::string_view address) const {
  auto parsed = parse_address(address);
  if (!parsed)
    return false;
  return std::any_of(networks_.begin(), networks_.end(), [&](const Network& n) {
    return n.v6 == parsed->v6 && same_prefix(n.bytes, parsed->bytes, n.prefix);
  });
}

}  // namespace wonderland::mediator
