#include "wonderland/http/static_files.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "test_util.hpp"
#include "wonderland/http/server.hpp"

namespace wonderland::http {
namespace {

namespace fs = std::filesystem;
using testing::connected_client;
using wonderland::testing::HttpClient;

void write_file(const fs::path& p, const std::string& content) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
}

class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() /
            ("wonderland-http-static-" + std::to_string(std::random_device{}()));
    root_ = base_ / "web";
    write_file(root_ / "index.html", "<!doctype html><title>Wonderland</title>");
    write_file(root_ / "app.js", "console.log('hi');");
    write_file(root_ / "style.css", "body{}");
    write_file(root_ / "logo.svg", "<svg/>");
    write_file(root_ / "img" / "cover.PNG", std::string("\x89PNG\r\n\x1a\n\0\x01", 10));
    write_file(root_ / "data.json", "{}");
    write_file(root_ / "favicon.ico", "ico");
    write_file(root_ / "fonts" / "a.woff2", "woff2");
    write_file(root_ / "docs" / "index.html", "docs index");
    write_file(root_ / "blob.bin", "bin");
    write_file(root_ / ".env", "SECRET=1");
    write_file(base_ / "secret.txt", "TOP SECRET");
    fs::create_symlink(base_ / "secret.txt", root_ / "leak.txt");

    server_ = std::make_unique<Server>();
    server_->router().add(Method::get, "/api/ping", [](const Request&) {
      return Response::json({{"pong", true}});
    });
    StaticFiles files({.root = root_, .spa_fallback = true});
    server_->router().add(Method::get, "/{path...}", files.handler());
    server_->start();
  }
  void TearDown() override {
    server_.reset();
    std::error_code ec;
    fs::remove_all(base_, ec);
  }

  fs::path base_;
  fs::path root_;
  std::unique_ptr<Server> server_;
};

TEST_F(StaticFilesTest, ServesFilesWithMimeTypes) {
  auto c = connected_client(server_->port());
  struct Case {
    const char* path;
    const char* type;
  };
  for (auto [path, type] :
       {Case{"/", "text/html; charset=utf-8"}, Case{"/index.html", "text/html; charset=utf-8"},
        Case{"/app.js", "text/javascript; charset=utf-8"},
        Case{"/style.css", "text/css; charset=utf-8"}, Case{"/logo.svg", "image/svg+xml"},
        Case{"/img/cover.PNG", "image/png"}, Case{"/data.json", "application/json"},
        Case{"/favicon.ico", "image/x-icon"}, Case{"/fonts/a.woff2", "font/woff2"},
        Case{"/blob.bin", "application/octet-stream"}}) {
    auto r = c.get(path);
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.header("Content-Type"), type) << path;
    EXPECT_EQ(r.header("Cache-Control"), "no-cache") << path;
    EXPECT_FALSE(r.header("ETag").empty()) << path;
    EXPECT_FALSE(r.header("Last-Modified").empty()) << path;
  }
  EXPECT_EQ(c.get("/").body, "<!doctype html><title>Wonderland</title>");
  EXPECT_EQ(c.get("/img/cover.PNG").body, std::string("\x89PNG\r\n\x1a\n\0\x01", 10));
  EXPECT_EQ(c.get("/docs/").body, "docs index");
  EXPECT_EQ(c.get("/api/ping").json()["pong"], true);  // a literal route beats the catch-all
  auto head = c.request("HEAD", "/app.js");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("Content-Length"), "18");
  EXPECT_TRUE(head.body.empty());
}

TEST_F(StaticFilesTest, RefusesPathTraversal) {
  auto c = connected_client(server_->port());
  for (const char* target :
       {"/../secret.txt", "/%2e%2e/secret.txt", "/docs/%2E%2E/%2e%2e/secret.txt",
        "/..%2fsecret.txt", "/%2e%2e%2fsecret.txt", "/..%5csecret.txt",
        "/docs/..%2f..%2fsecret.txt", "/%2fetc%2fpasswd", "//etc/passwd", "/leak.txt", "/.env",
        "/./index.html", "/app.js%00.png"}) {
    auto r = c.get(target);
    EXPECT_EQ(r.status, 404) << target;
    EXPECT_EQ(r.header("Content-Type"), "application/problem+json") << target;
    EXPECT_EQ(r.body.find("SECRET"), std::string::npos) << target;
    EXPECT_EQ(r.body.find("root:"), std::string::npos) << target;
  }
}

TEST_F(StaticFilesTest, ConditionalRequestsGet304) {
  auto c = connected_client(server_->port());
  auto r = c.get("/app.js");
  auto etag = r.header("ETag");
  ASSERT_EQ(etag.rfind("W/\"", 0), 0u);
  auto r2 = c.request("GET", "/app.js", {}, {{"If-None-Match", "\"other\", " + etag}});
  EXPECT_EQ(r2.status, 304);
  EXPECT_TRUE(r2.body.empty());
  EXPECT_EQ(r2.header("ETag"), etag);
  EXPECT_EQ(c.request("GET", "/app.js", {}, {{"If-None-Match", "\"other\""}}).status, 200);
  EXPECT_EQ(
      c.request("GET", "/app.js", {}, {{"If-Modified-Since", r.header("Last-Modified")}}).status,
      304);
  EXPECT_EQ(
      c.request("GET", "/app.js", {}, {{"If-Modified-Since", "Thu, 01 Jan 1970 00:00:00 GMT"}})
          .status,
      200);
  EXPECT_EQ(c.get("/app.js").status, 200);  // the connection survives 304s
}

TEST_F(StaticFilesTest, SpaFallbackOnlyForHtmlNavigations) {
  auto c = connected_client(server_->port());
  auto r = c.request("GET", "/orders/42", {}, {{"Accept", "text/html,application/xhtml+xml"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(r.body, "<!doctype html><title>Wonderland</title>");
  EXPECT_EQ(c.request("GET", "/orders/42", {}, {{"Accept", "application/json"}}).status, 404);
  EXPECT_EQ(c.request("GET", "/missing.js", {}, {{"Accept", "text/html"}}).status, 404);
  EXPECT_EQ(c.request("GET", "/../secret.txt", {}, {{"Accept", "text/html"}}).status, 404);
  EXPECT_EQ(c.request("POST", "/orders/42", "{}").status, 404);
}

TEST(StaticFiles, MimeTypes) {
  EXPECT_EQ(mime_type("a/b/c.HTML"), "text/html; charset=utf-8");
  EXPECT_EQ(mime_type("x.mjs"), "text/javascript; charset=utf-8");
  EXPECT_EQ(mime_type("x.woff"), "font/woff");
  EXPECT_EQ(mime_type("dir.d/file"), "application/octet-stream");
  EXPECT_EQ(mime_type("noext"), "application/octet-stream");
  EXPECT_THROW(StaticFiles({.root = "/definitely/not/here"}), std::invalid_argument);
}

}  // namespace
}  // namespace wonderland::http
