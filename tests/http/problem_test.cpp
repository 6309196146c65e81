#include "wonderland/http/problem.hpp"

#include <gtest/gtest.h>

#include "wonderland/http/response.hpp"

namespace wonderland::http {
namespace {

TEST(Problem, StatusForEveryCanonicalCode) {
  EXPECT_EQ(status_for_code(codes::kInvalidArgument), StatusCode::bad_request);
  EXPECT_EQ(status_for_code(codes::kUnauthenticated), StatusCode::unauthorized);
  EXPECT_EQ(status_for_code(codes::kPermissionDenied), StatusCode::forbidden);
  EXPECT_EQ(status_for_code(codes::kNotFound), StatusCode::not_found);
  EXPECT_EQ(status_for_code(codes::kConflict), StatusCode::conflict);
  EXPECT_EQ(status_for_code(codes::kFailedPrecondition), StatusCode::unprocessable_entity);
  EXPECT_EQ(status_for_code(codes::kAborted), StatusCode::conflict);
  EXPECT_EQ(status_for_code(codes::kResourceExhausted), StatusCode::too_many_requests);
  EXPECT_EQ(status_for_code(codes::kUnavailable), StatusCode::service_unavailable);
  EXPECT_EQ(status_for_code(codes::kCancelled), StatusCode::service_unavailable);
  EXPECT_EQ(status_for_code(codes::kDeadlineExceeded), StatusCode::gateway_timeout);
  EXPECT_EQ(status_for_code(codes::kInternal), StatusCode::internal_server_error);
}

TEST(Problem, CodeForStatus) {
  EXPECT_EQ(code_for_status(StatusCode::not_found), codes::kNotFound);
  EXPECT_EQ(code_for_status(StatusCode::method_not_allowed), codes::kInvalidArgument);
  EXPECT_EQ(code_for_status(StatusCode::payload_too_large), codes::kInvalidArgument);
  EXPECT_EQ(code_for_status(StatusCode::service_unavailable), codes::kUnavailable);
  EXPECT_EQ(code_for_status(StatusCode::not_implemented), codes::kInternal);
}

TEST(Problem, JsonHasTheRfcMembers) {
  Problem p = Problem::of(StatusCode::not_found, "no book with ISBN 1");
  p.instance = "/api/books/1";
  auto j = p.to_json();
  EXPECT_EQ(j["type"], "about:blank");
  EXPECT_EQ(j["title"], "Not Found");
  EXPECT_EQ(j["status"], 404);
  EXPECT_EQ(j["detail"], "no book with ISBN 1");
  EXPECT_EQ(j["instance"], "/api/books/1");
  EXPECT_EQ(j["code"], "not_found");
  EXPECT_FALSE(j.contains("errors"));
  EXPECT_FALSE(j.contains("retryable"));
}

TEST(Problem, FromErrorKeepsFieldsAndRetryability) {
  Error e = Error::of(codes::kInvalidArgument, "invalid fields: isbn");
  e.fields.push_back({"isbn", "is required"});
  auto j = Problem::from_error(e, "/api/books").to_json();
  EXPECT_EQ(j["status"], 400);
  EXPECT_EQ(j["errors"], nlohmann::json::parse(R"([{"field":"isbn","message":"is required"}])"));
  auto u = Problem::from_error(Error::of(codes::kUnavailable, "inventory is down")).to_json();
  EXPECT_EQ(u["status"], 503);
  EXPECT_EQ(u["retryable"], true);
  EXPECT_EQ(u["code"], "unavailable");
}

TEST(Problem, ExtensionsDoNotOverrideMembers) {
  Problem p = Problem::of(StatusCode::conflict, "taken");
  p.extensions = {{"status", 1}, {"order_id", "o-1"}};
  auto j = p.to_json();
  EXPECT_EQ(j["status"], 409);
  EXPECT_EQ(j["order_id"], "o-1");
}

TEST(Response, ProblemResponseHeaders) {
  auto r = Response::error(Error::of(codes::kUnauthenticated, "token expired"), "/api/me");
  EXPECT_EQ(r.status(), StatusCode::unauthorized);
  EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
  EXPECT_EQ(r.header("WWW-Authenticate"), "Bearer");
  EXPECT_EQ(r.header("Cache-Control"), "no-store");
  auto j = nlohmann::json::parse(r.body());
  EXPECT_EQ(j["detail"], "token expired");
  EXPECT_EQ(j["instance"], "/api/me");
}

TEST(Response, JsonCreatedAndText) {
  auto c = Response::created("/api/orders/o-1", {{"id", "o-1"}});
  EXPECT_EQ(c.status(), StatusCode::created);
  EXPECT_EQ(c.header("Location"), "/api/orders/o-1");
  EXPECT_EQ(c.header("Content-Type"), "application/json");
  EXPECT_EQ(c.body(), R"({"id":"o-1"})");
  auto t = Response::text("pong").cache_control("no-cache");
  EXPECT_EQ(t.header("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(t.header("Cache-Control"), "no-cache");
  EXPECT_EQ(Response::no_content().status(), StatusCode::no_content);
}

}  // namespace
}  // namespace wonderland::http
