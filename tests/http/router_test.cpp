#include "wonderland/http/router.hpp"

#include <gtest/gtest.h>

namespace wonderland::http {
namespace {

using Kind = Router::Match::Kind;

SyncHandler named(std::string name) {
  return [name](const Request&) { return Response::text(name); };
}

std::string run(const Router::Match& m) {
  RawRequest raw;
  Request req(std::move(raw), "/", QueryParams{});
  return std::get<SyncHandler>(m.route->handler)(req).body();
}

TEST(Router, MatchesLiteralsAndParams) {
  Router r;
  r.add(Method::get, "/api/books", named("list"));
  r.add(Method::get, "/api/books/{isbn}", named("one"));
  r.add(Method::get, "/api/orders/{id}/lines/{line}", named("line"));
  auto m = r.match(Method::get, "/api/books/978-0%2F1");
  ASSERT_EQ(m.kind, Kind::kFound);
  EXPECT_EQ(run(m), "one");
  ASSERT_EQ(m.params.size(), 1u);
  EXPECT_EQ(m.params[0], (std::pair<std::string, std::string>{"isbn", "978-0/1"}));
  m = r.match(Method::get, "/api/orders/o%201/lines/2");
  ASSERT_EQ(m.kind, Kind::kFound);
  EXPECT_EQ(m.params[0].second, "o 1");
  EXPECT_EQ(m.params[1].second, "2");
  EXPECT_EQ(run(r.match(Method::get, "/api/books/")), "list");  // trailing slash ignored
}

TEST(Router, MostSpecificRouteWins) {
  Router r;
  r.add(Method::get, "/{path...}", named("files"));
  r.add(Method::get, "/api/books/{isbn}", named("param"));
  r.add(Method::get, "/api/books/new", named("literal"));
  r.add(Method::get, "/api/{rest...}", named("api-rest"));
  EXPECT_EQ(run(r.match(Method::get, "/api/books/new")), "literal");
  EXPECT_EQ(run(r.match(Method::get, "/api/books/1")), "param");
  EXPECT_EQ(run(r.match(Method::get, "/api/other/x")), "api-rest");
  auto m = r.match(Method::get, "/css/site.css");
  EXPECT_EQ(run(m), "files");
  EXPECT_EQ(m.params[0].second, "css/site.css");
  m = r.match(Method::get, "/");
  EXPECT_EQ(run(m), "files");
  EXPECT_EQ(m.params[0].second, "");
}

TEST(Router, NotFoundAndMethodNotAllowed) {
  Router r;
  r.add(Method::get, "/api/books", named("list"));
  r.add(Method::post, "/api/books", named("create"));
  r.add(Method::get, "/{path...}", named("files"));
  EXPECT_EQ(r.match(Method::get, "/api/books/1/x").kind, Kind::kFound);  // the catch-all
  auto m = r.match(Method::delete_, "/api/books");
  ASSERT_EQ(m.kind, Kind::kMethodNotAllowed);
  EXPECT_EQ(m.allow, "GET, HEAD, OPTIONS, POST");
  // Only the catch-all fits and it lacks the method: 404, not 405.
  EXPECT_EQ(r.match(Method::post, "/elsewhere").kind, Kind::kNotFound);
  Router empty;
  EXPECT_EQ(empty.match(Method::get, "/").kind, Kind::kNotFound);
}

TEST(Router, HeadFallsBackToGet) {
  Router r;
  r.add(Method::get, "/a", named("get"));
  r.add(Method::get, "/b", named("get-b"));
  r.add(Method::head, "/b", named("head-b"));
  EXPECT_EQ(run(r.match(Method::head, "/a")), "get");
  EXPECT_EQ(run(r.match(Method::head, "/b")), "head-b");
}

TEST(Router, BadEscapeInPath) {
  Router r;
  r.add(Method::get, "/a/{x}", named("x"));
  EXPECT_EQ(r.match(Method::get, "/a/%zz").kind, Kind::kBadPath);
}

TEST(Router, RejectsMalformedOrClashingPatterns) {
  Router r;
  EXPECT_THROW(r.add(Method::get, "api", named("x")), std::invalid_argument);
  EXPECT_THROW(r.add(Method::get, "/a/{x", named("x")), std::invalid_argument);
  EXPECT_THROW(r.add(Method::get, "/a/b{x}", named("x")), std::invalid_argument);
  EXPECT_THROW(r.add(Method::get, "/a/{rest...}/b", named("x")), std::invalid_argument);
  EXPECT_THROW(r.add(Method::get, "/a/{x}/{x}", named("x")), std::invalid_argument);
  EXPECT_THROW(r.add(Method::get, "/a//b", named("x")), std::invalid_argument);
  r.add(Method::get, "/a/{x}", named("x"));
  EXPECT_THROW(r.add(Method::get, "/a/{y}", named("y")), std::invalid_argument);
  r.add(Method::put, "/a/{y}", named("y"));  // another method is fine
  r.freeze();
  EXPECT_THROW(r.add(Method::get, "/late", named("late")), std::logic_error);
}

}  // namespace
}  // namespace wonderland::http
