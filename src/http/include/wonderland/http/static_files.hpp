// Static files from a directory (the web front-end), with MIME types and revalidation.
//
//   StaticFiles web({.root = "web", .spa_fallback = true});
//   server.router().add(Method::get, "/{path...}", web.handler());   // lowest priority route
//
// Guarantees
//   * Only regular files below `root` are served: a decoded path with "..", ".", a backslash,
//     a NUL or a hidden segment (".git") is refused with 404, and so is a file whose real path
//     (symlinks resolved) lies outside root.
//   * "" and directory paths serve their `index` file.
//   * Responses carry Content-Type (mime_type), Cache-Control (`cache_control`), a weak ETag
//     from size and modification time, and Last-Modified; If-None-Match (or, without it,
//     If-Modified-Since) gives 304 Not Modified.
//   * With `spa_fallback`, a missing path whose last segment has no extension and whose
//     request accepts text/html gets the root index (client-side routing); API clients
//     (Accept: application/json) still get a 404 problem.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "wonderland/http/request.hpp"
#include "wonderland/http/response.hpp"
#include "wonderland/http/router.hpp"

namespace wonderland::http {

struct StaticFilesOptions {
  std::filesystem::path root;
  std::string index = "index.html";
  bool spa_fallback = false;
  std::string cache_control = "no-cache";
  /// Name of the route parameter holding the relative path ("/{path...}").
  std::string param = "path";
};

class StaticFiles {
 public:
  /// Throws std::invalid_argument when root is not a directory.
  explicit StaticFiles(StaticFilesOptions options);

  /// Serves `relative` (decoded, '/'-separated, relative to root) for `request`.
  Response serve(const Request& request, std::string_view relative) const;
  /// A handler serving the route parameter `options.param`. Holds a copy of this object.
  SyncHandler handler() const;

  const std::filesystem::path& root() const { return root_; }

 private:
  StaticFilesOptions options_;
  std::filesystem::path root_;  // canonical
};

/// Content type by file extension (case-insensitive): html, css, js/mjs, json, svg, png, jpg,
/// gif, webp, ico, woff, woff2, txt, map, xml, pdf, wasm, webmanifest; else
/// application/octet-stream. Text types name charset=utf-8.
std::string_view mime_type(std::string_view path);

}  // namespace wonderland::http
