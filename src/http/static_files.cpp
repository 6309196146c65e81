#include "wonderland/http/static_files.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <system_error>

#include "http_date.hpp"

namespace wonderland::http {

namespace fs = std::filesystem;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool within(const fs::path& root, const fs::path& p) {
  auto [r, q] = std::mismatch(root.begin(), root.end(), p.begin(), p.end());
  return r == root.end();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

std::string_view opaque_tag(std::string_view tag) {
  if (tag.substr(0, 2) == "W/")
    tag.remove_prefix(2);
  return tag;
}

// If-None-Match: "*" or a list of entity tags, compared weakly.
bool none_match_hits(std::string_view header, std::string_view etag) {
  header = trim(header);
  if (header == "*")
    return true;
  while (!header.empty()) {
    auto comma = header.find(',');
    auto tag = trim(header.substr(0, comma));
    if (opaque_tag(tag) == opaque_tag(etag))
      return true;
    if (comma == std::string_view::npos)
      break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

Response not_found(const Request& request) {
  Problem p = Problem::of(StatusCode::not_found, "no file at " + request.path(), codes::kNotFound);
  p.instance = request.path();
  return Response::problem(p);
}

}  // namespace

std::string_view mime_type(std::string_view path) {
  auto dot = path.rfind('.');
  auto slash = path.rfind('/');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) {
    return "application/octet-stream";
  }
  std::string ext = lower(path.substr(dot + 1));
  struct Entry {
    const char* ext;
    const char* type;
  };
  static constexpr Entry kTypes[] = {
      {"html", "text/html; charset=utf-8"},
      {"htm", "text/html; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"},
      {"json", "application/json"},
      {"map", "application/json"},
      {"webmanifest", "application/manifest+json"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"webp", "image/webp"},
      {"ico", "image/x-icon"},
      {"woff", "font/woff"},
      {"woff2", "font/woff2"},
      {"txt", "text/plain; charset=utf-8"},
      {"xml", "application/xml"},
      {"pdf", "application/pdf"},
      {"wasm", "application/wasm"},
  };
  for (const auto& e : kTypes) {
    if (ext == e.ext)
      return e.type;
  }
  return "application/octet-stream";
}

StaticFiles::StaticFiles(StaticFilesOptions options) : options_(std::move(options)) {
  std::error_code ec;
  root_ = fs::canonical(options_.root, ec);
  if (ec || !fs::is_directory(root_, ec)) {
    throw std::invalid_argument("static files root is not a directory: " + options_.root.string());
  }
}

namespace {

/// The file a request for `relative` names, with its real path (symlinks resolved), or nullopt
/// when it must be a 404. The path is built from checked segments only.
std::optional<fs::path> resolve(const fs::path& root, const StaticFilesOptions& options,
                                const Request& request, std::string_view relative) {
  fs::path rel;
  std::string_view rest = relative;
  std::string_view last;
  while (!rest.empty()) {
    auto slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    if (seg.empty())
      continue;
    if (seg.front() == '.' || seg.find('\\') != std::string_view::npos ||
        seg.find('\0') != std::string_view::npos) {
      return std::nullopt;  // "..", ".", hidden files, Windows separators, NUL
    }
    rel /= std::string(seg);
    last = seg;
  }

  std::error_code ec;
  fs::path file = root / rel;
  auto st = fs::status(file, ec);
  if (!ec && fs::is_directory(st)) {
    file /= options.index;
    st = fs::status(file, ec);
  }
  if (ec || !fs::is_regular_file(st)) {
    auto accept = request.header("Accept");
    bool wants_html = accept && accept->find("text/html") != std::string_view::npos;
    if (!options.spa_fallback || last.find('.') != std::string_view::npos || !wants_html) {
      return std::nullopt;
    }
    file = root / options.index;
  }
  fs::path real = fs::canonical(file, ec);
  if (ec || !within(root, real) || !fs::is_regular_file(real, ec))
    return std::nullopt;
  return real;
}

/// What revalidation compares: size, modification time (whole seconds), weak ETag.
struct Validators {
  std::uintmax_t size = 0;
  std::time_t seconds = 0;
  std::string etag;
};

std::optional<Validators> validators(const fs::path& real) {
  std::error_code ec;
  Validators v;
  v.size = fs::file_size(real, ec);
  if (ec)
    return std::nullopt;
  auto mtime = fs::last_write_time(real, ec);
  if (ec)
    return std::nullopt;
  auto sys = std::chrono::file_clock::to_sys(mtime);
  auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(sys.time_since_epoch()).count();
  v.seconds = std::chrono::system_clock::to_time_t(
      std::chrono::time_point_cast<std::chrono::system_clock::duration>(sys));
  char tag[64];
  std::snprintf(tag, sizeof tag, "W/\"%llx-%llx\"", static_cast<unsigned long long>(v.size),
                static_cast<unsigned long long>(nanos));
  v.etag = tag;
  return v;
}

/// Whether the client's copy is current: If-None-Match, or without it If-Modified-Since.
bool fresh(const Request& request, const Validators& v) {
  if (auto inm = request.header("If-None-Match"))
    return none_match_hits(*inm, v.etag);
  if (auto ims = request.header("If-Modified-Since")) {
    auto since = detail::parse_http_date(*ims);
    return since && v.seconds <= *since;
  }
  return false;
}

}  // namespace

Response StaticFiles::serve(const Request& request, std::string_view relative) const {
  auto real = resolve(root_, options_, request, relative);
  if (!real)
    return not_found(request);
  auto v = validators(*real);
  if (!v)
    return not_found(request);

  const bool is_fresh = fresh(request, *v);
  Response response(is_fresh ? StatusCode::not_modified : StatusCode::ok);
  response.header("ETag", v->etag).header("Last-Modified", detail::format_http_date(v->seconds));
  response.cache_control(options_.cache_control);
  if (is_fresh)
    return response;

  std::ifstream in(*real, std::ios::binary);
  std::string body(v->size, '\0');
  if (!in || !in.read(body.data(), static_cast<std::streamsize>(v->size))) {
    Problem p = Problem::of(StatusCode::internal_server_error, "could not read " + request.path(),
                            codes::kInternal);
    p.instance = request.path();
    return Response::problem(p);
  }
  response.content_type(mime_type(real->filename().string()));
  response.body(std::move(body));
  return response;
}

SyncHandler StaticFiles::handler() const {
  return [self = *this](const Request& request) {
    return self.serve(request, request.param(self.options_.param).value_or(std::string_view{}));
  };
}

}  // namespace wonderland::http
