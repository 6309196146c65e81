#include "wonderland/http/router.hpp"

#include <algorithm>
#include <stdexcept>

#include "wonderland/http/url.hpp"

namespace wonderland::http {

namespace {

using Kind = Router::Segment::Kind;

// Splits "/a/b/" into {"a", "b"}; "/" into {}. The leading '/' is required by the caller.
std::vector<std::string_view> split(std::string_view path) {
  std::vector<std::string_view> out;
  if (!path.empty() && path.front() == '/')
    path.remove_prefix(1);
  if (!path.empty() && path.back() == '/')
    path.remove_suffix(1);
  if (path.empty())
    return out;
  while (true) {
    std::size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos)
      break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool valid_name(std::string_view name) {
  if (name.empty())
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

std::vector<Router::Segment> parse_pattern(std::string_view pattern) {
  if (pattern.empty() || pattern.front() != '/') {
    throw std::invalid_argument("route pattern must start with '/': " + std::string(pattern));
  }
  std::vector<Router::Segment> out;
  auto parts = split(pattern);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    std::string_view p = parts[i];
    if (p.empty()) {
      throw std::invalid_argument("route pattern has an empty segment: " + std::string(pattern));
    }
    if (p.front() == '{') {
      if (p.back() != '}') {
        throw std::invalid_argument("route parameter must be a whole segment: " +
                                    std::string(pattern));
      }
      std::string_view name = p.substr(1, p.size() - 2);
      Kind kind = Kind::kParam;
      if (name.size() > 3 && name.substr(name.size() - 3) == "...") {
        name.remove_suffix(3);
        kind = Kind::kRest;
        if (i + 1 != parts.size()) {
          throw std::invalid_argument("'{name...}' must be the last segment: " +
                                      std::string(pattern));
        }
      }
      if (!valid_name(name)) {
        throw std::invalid_argument("bad route parameter name in " + std::string(pattern));
      }
      for (const auto& s : out) {
        if (s.kind != Kind::kLiteral && s.text == name) {
          throw std::invalid_argument("duplicate route parameter in " + std::string(pattern));
        }
      }
      out.push_back({kind, std::string(name)});
    } else {
      if (p.find_first_of("{}") != std::string_view::npos) {
        throw std::invalid_argument("route parameter must be a whole segment: " +
                                    std::string(pattern));
      }
      auto decoded = percent_decode(p);
      if (!decoded)
        throw std::invalid_argument("bad escape in route pattern " + std::string(pattern));
      out.push_back({Kind::kLiteral, std::move(*decoded)});
    }
  }
  return out;
}

bool has_rest(const Router::Route& r) {
  return !r.segments.empty() && r.segments.back().kind == Kind::kRest;
}

// Whether the route fits the decoded segments; fills params when given.
bool fits(const Router::Route& route, const std::vector<std::string>& segs,
          std::vector<std::pair<std::string, std::string>>* params) {
  const auto& pat = route.segments;
  bool rest = has_rest(route);
  std::size_t fixed = rest ? pat.size() - 1 : pat.size();
  if (rest ? segs.size() < fixed : segs.size() != fixed)
    return false;
  for (std::size_t i = 0; i < fixed; ++i) {
    if (pat[i].kind == Kind::kLiteral && pat[i].text != segs[i])
      return false;
  }
  if (params != nullptr) {
    params->clear();
    for (std::size_t i = 0; i < fixed; ++i) {
      if (pat[i].kind == Kind::kParam)
        params->emplace_back(pat[i].text, segs[i]);
    }
    if (rest) {
      std::string tail;
      for (std::size_t i = fixed; i < segs.size(); ++i) {
        if (i != fixed)
          tail.push_back('/');
        tail += segs[i];
      }
      params->emplace_back(pat.back().text, std::move(tail));
    }
  }
  return true;
}

// Lower is more specific: literal 0, param 1, rest 2, compared from the left; a shorter
// pattern that is a prefix of a longer one is more specific.
bool more_specific(const Router::Route& a, const Router::Route& b) {
  return std::lexicographical_compare(
      a.segments.begin(), a.segments.end(), b.segments.begin(), b.segments.end(),
      [](const Router::Segment& x, const Router::Segment& y) { return x.kind < y.kind; });
}

bool same_shape(const Router::Route& a, const Router::Route& b) {
  if (a.segments.size() != b.segments.size())
    return false;
  for (std::size_t i = 0; i < a.segments.size(); ++i) {
    const auto& x = a.segments[i];
    const auto& y = b.segments[i];
    if (x.kind != y.kind)
      return false;
    if (x.kind == Kind::kLiteral && x.text != y.text)
      return false;
  }
  return true;
}

}  // namespace

Router& Router::add(Method method, std::string_view pattern, SyncHandler handler) {
  if (!handler)
    throw std::invalid_argument("empty handler for " + std::string(pattern));
  return add_route(method, pattern, std::move(handler));
}

Router& Router::add_async(Method method, std::string_view pattern, AsyncHandler handler) {
  if (!handler)
    throw std::invalid_argument("empty handler for " + std::string(pattern));
  return add_route(method, pattern, std::move(handler));
}

Router& Router::add_route(Method method, std::string_view pattern,
                          std::variant<SyncHandler, AsyncHandler> handler) {
  if (frozen_)
    throw std::logic_error("routes must be added before the server starts");
  if (method == Method::unknown)
    throw std::invalid_argument("unknown method");
  auto route = std::make_unique<Route>(
      Route{method, std::string(pattern), parse_pattern(pattern), std::move(handler)});
  for (const auto& r : routes_) {
    if (r->method == method && same_shape(*r, *route)) {
      throw std::invalid_argument("route " + std::string(boost::beast::http::to_string(method)) +
                                  " " + route->pattern + " clashes with " + r->pattern);
    }
  }
  routes_.push_back(std::move(route));
  return *this;
}

Router::Match Router::match(Method method, std::string_view path) const {
  Match m;
  std::vector<std::string> segs;
  for (auto raw : split(path)) {
    auto d = percent_decode(raw);
    if (!d) {
      m.kind = Match::Kind::kBadPath;
      return m;
    }
    segs.push_back(std::move(*d));
  }

  const Route* best = nullptr;      // exact method
  const Route* best_get = nullptr;  // GET, used for HEAD without a HEAD route
  bool fixed_fit = false;
  std::vector<Method> allowed;
  for (const auto& r : routes_) {
    if (!fits(*r, segs, nullptr))
      continue;
    if (!has_rest(*r))
      fixed_fit = true;
    allowed.push_back(r->method);
    if (r->method == method) {
      if (best == nullptr || more_specific(*r, *best))
        best = r.get();
    } else if (method == Method::head && r->method == Method::get) {
      if (best_get == nullptr || more_specific(*r, *best_get))
        best_get = r.get();
    }
  }
  if (best == nullptr)
    best = best_get;
  if (best != nullptr) {
    m.kind = Match::Kind::kFound;
    m.route = best;
    fits(*best, segs, &m.params);
    return m;
  }
  if (!fixed_fit) {
    m.kind = Match::Kind::kNotFound;
    return m;
  }
  if (std::find(allowed.begin(), allowed.end(), Method::get) != allowed.end()) {
    allowed.push_back(Method::head);
  }
  allowed.push_back(Method::options);
  std::vector<std::string_view> names;
  for (auto a : allowed) {
    auto s = boost::beast::http::to_string(a);
    names.emplace_back(s.data(), s.size());
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i != 0)
      m.allow += ", ";
    m.allow += names[i];
  }
  m.kind = Match::Kind::kMethodNotAllowed;
  return m;
}

}  // namespace wonderland::http
