// Records from broker bodies and workflow events; Filter and Query parsing and semantics.
#include <gtest/gtest.h>

#include "wonderland/log_store/filter.hpp"
#include "wonderland/log_store/query.hpp"
#include "wonderland/log_store/record.hpp"

namespace wonderland::log_store {
namespace {

SystemTime at(const char* iso) {
  return *parse_timestamp(iso);
}

Record rec(const char* time, const char* service, Severity severity, const char* message,
           const char* correlation = "") {
  Record r;
  r.time = at(time);
  r.service = service;
  r.severity = severity;
  r.message = message;
  r.correlation_id = correlation;
  return r;
}

TEST(Severity, NamesAndAliases) {
  EXPECT_EQ(to_string(Severity::kWarning), "warning");
  EXPECT_EQ(parse_severity("WARN"), Severity::kWarning);
  EXPECT_EQ(parse_severity("Error"), Severity::kError);
  EXPECT_EQ(parse_severity("critical"), Severity::kError);
  EXPECT_EQ(parse_severity("trace"), Severity::kDebug);
  EXPECT_FALSE(parse_severity("loud"));
  EXPECT_LT(Severity::kDebug, Severity::kInfo);
  EXPECT_LT(Severity::kWarning, Severity::kError);
}

TEST(Timestamp, FastPathAgreesWithTheCommonParser) {
  for (const char* s : {"2026-11-26T09:26:12.345Z", "1999-12-31T23:59:59.999Z",
                        "2024-02-29T00:00:00.000Z", "1970-01-01T00:00:00.000Z"}) {
    EXPECT_EQ(parse_timestamp(s), parse_iso8601(s)) << s;
    EXPECT_EQ(format_iso8601(*parse_timestamp(s)), s);
  }
  EXPECT_EQ(parse_timestamp("2026-11-26T09:26:12Z"), parse_iso8601("2026-11-26T09:26:12Z"));
  EXPECT_FALSE(parse_timestamp("2026-13-26T09:26:12.345Z"));
  EXPECT_FALSE(parse_timestamp("yesterday"));
  // Years a SystemTime cannot hold are refused by both paths, never overflowed.
  EXPECT_FALSE(parse_timestamp("7751-01-01T00:00:01.250Z"));
  EXPECT_FALSE(parse_timestamp("4052-01-01T00:00:00Z"));
}

TEST(Timestamp, BothPathsShareTheEdgeOfWhatASystemTimeHolds) {
  // Early 2262 fits in nanoseconds; the fast path (with milliseconds) must take what the
  // common parser (without) takes, or a record written back would no longer read.
  for (const char* s : {"2262-01-01T00:00:00", "2262-04-11T23:47:15", "1677-09-21T00:12:45"}) {
    auto plain = parse_iso8601(std::string(s) + "Z");
    ASSERT_TRUE(plain.has_value()) << s;
    EXPECT_EQ(parse_timestamp(std::string(s) + ".000Z"), plain) << s;
    EXPECT_EQ(parse_timestamp(format_iso8601(*plain)), plain) << s;
  }
  EXPECT_FALSE(parse_timestamp("2262-04-12T00:00:00.000Z"));
  EXPECT_FALSE(parse_iso8601("2262-04-12T00:00:00Z"));
  EXPECT_FALSE(parse_timestamp("1677-09-20T00:00:00.000Z"));
}

TEST(RecordJson, RoundTrips) {
  Record r = rec("2026-11-26T09:26:12.345Z", "orders", Severity::kError, "boom, \"quoted\"", "c-1");
  r.fields = {{"order_id", 42}, {"who", "Müller"}};
  auto j = to_json(r);
  EXPECT_EQ(j["timestamp"], "2026-11-26T09:26:12.345Z");
  EXPECT_EQ(j["severity"], "error");
  EXPECT_EQ(record_from_json(j), r);
}

TEST(RecordJson, StrictParseNamesTheField) {
  auto j = to_json(rec("2026-11-26T09:26:12.345Z", "s", Severity::kInfo, "m"));
  j["severity"] = "loud";
  try {
    record_from_json(j);
    FAIL() << "accepted a bad severity";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("severity"), std::string::npos);
  }
  j.erase("severity");
  EXPECT_THROW(record_from_json(j), std::invalid_argument);
}

TEST(LogBody, WellFormedBodyIsTakenAsItIs) {
  nlohmann::json body = {{"timestamp", "2026-11-26T09:26:12.345Z"},
                         {"service", "orders"},
                         {"severity", "warning"},
                         {"correlation_id", "c-9"},
                         {"message", "stock low"},
                         {"fields", {{"sku", "b-1"}}}};
  Defaults d;
  d.time = at("2030-01-01T00:00:00.000Z");
  d.service = "other";
  Record r = record_from_log_body(body, d);
  EXPECT_EQ(r.time, at("2026-11-26T09:26:12.345Z"));
  EXPECT_EQ(r.service, "orders");
  EXPECT_EQ(r.severity, Severity::kWarning);
  EXPECT_EQ(r.correlation_id, "c-9");
  EXPECT_EQ(r.message, "stock low");
  EXPECT_EQ(r.fields, (nlohmann::json{{"sku", "b-1"}}));
}

TEST(LogBody, MalformedMembersFallBackInsteadOfLosingTheRecord) {
  Defaults d;
  d.time = at("2030-01-01T00:00:00.000Z");
  d.service = "from-envelope";
  d.severity = Severity::kError;
  d.correlation_id = "env-corr";
  Record r = record_from_log_body(
      {{"timestamp", "soon"}, {"severity", 3}, {"message", {{"a", 1}}}, {"fields", 7}}, d);
  EXPECT_EQ(r.time, d.time);
  EXPECT_EQ(r.service, "from-envelope");
  EXPECT_EQ(r.severity, Severity::kError);
  EXPECT_EQ(r.correlation_id, "env-corr");
  EXPECT_EQ(r.message, "{\"a\":1}");
  EXPECT_EQ(r.fields, (nlohmann::json{{"value", 7}}));
  Record s = record_from_log_body("just text", d);
  EXPECT_EQ(s.message, "\"just text\"");
}

TEST(WorkflowEvent, FailedEventsAreErrorsWithASummary) {
  nlohmann::json body = {{"step", "reserve"},
                         {"attempt", 2},
                         {"error", {{"code", "unavailable"}, {"message", "no stock"}}}};
  Record r = record_from_workflow_event("workflow.step_failed", "mediator", "wf-1",
                                        at("2026-11-26T09:26:12.345Z"), body);
  EXPECT_EQ(r.severity, Severity::kError);
  EXPECT_EQ(r.service, "mediator");
  EXPECT_EQ(r.correlation_id, "wf-1");
  EXPECT_EQ(r.message, "workflow.step_failed: step=reserve, attempt=2, error=no stock");
  EXPECT_EQ(r.fields, body);
  Record ok = record_from_workflow_event("workflow.step_succeeded", "mediator", "wf-1",
                                         at("2026-11-26T09:26:12.345Z"), {{"step", "pay"}});
  EXPECT_EQ(ok.severity, Severity::kInfo);
  EXPECT_EQ(ok.message, "workflow.step_succeeded: step=pay");
}

TEST(Filter, EmptyMatchesEverything) {
  Filter f;
  EXPECT_TRUE(f.empty());
  EXPECT_TRUE(f.matches(rec("2026-11-26T09:26:12.345Z", "a", Severity::kDebug, "x")));
}

TEST(Filter, SeverityIsExactAndMinSeverityIsAtLeast) {
  auto warn = rec("2026-11-26T09:26:12.345Z", "a", Severity::kWarning, "x");
  auto err = rec("2026-11-26T09:26:12.345Z", "a", Severity::kError, "x");
  auto info = rec("2026-11-26T09:26:12.345Z", "a", Severity::kInfo, "x");
  Filter exact = Filter::from_params({{"severity", "warning"}}).value();
  EXPECT_TRUE(exact.matches(warn));
  EXPECT_FALSE(exact.matches(err));
  Filter at_least = Filter::from_params({{"min_severity", "warning"}}).value();
  EXPECT_TRUE(at_least.matches(warn));
  EXPECT_TRUE(at_least.matches(err));
  EXPECT_FALSE(at_least.matches(info));
}

TEST(Filter, ServiceCorrelationTextAndTimeRange) {
  Filter f = Filter::from_json({{"service", "orders"},
                                {"correlation_id", "c-1"},
                                {"text", "MÜLLER paid"},
                                {"since", "2026-11-26T09:00:00.000Z"},
                                {"until", "2026-11-26T10:00:00.000Z"}})
                 .value();
  auto base =
      rec("2026-11-26T09:30:00.000Z", "orders", Severity::kInfo, "Herr MÜLLER PAID twice", "c-1");
  EXPECT_TRUE(f.matches(base));
  auto other = base;
  other.service = "Orders";  // service is case-sensitive
  EXPECT_FALSE(f.matches(other));
  other = base;
  other.correlation_id = "c-2";
  EXPECT_FALSE(f.matches(other));
  other = base;
  other.message = "Herr Müller paid";  // non-ASCII letters are not folded
  EXPECT_FALSE(f.matches(other));
  other = base;
  other.time = at("2026-11-26T09:00:00.000Z");  // since is inclusive
  EXPECT_TRUE(f.matches(other));
  other.time = at("2026-11-26T10:00:00.000Z");  // until is exclusive
  EXPECT_FALSE(f.matches(other));
  other.time = at("2026-11-26T08:59:59.999Z");
  EXPECT_FALSE(f.matches(other));
}

TEST(Filter, TextIgnoresAsciiCase) {
  EXPECT_TRUE(contains_ignoring_case("Payment DECLINED by bank", "declined"));
  EXPECT_TRUE(contains_ignoring_case("abc", ""));
  EXPECT_FALSE(contains_ignoring_case("ab", "abc"));
  EXPECT_TRUE(contains_ignoring_case("東京 office", "東京"));
}

TEST(Filter, BadValuesNameTheParameter) {
  auto e = Filter::from_params({{"severity", "loud"}});
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, codes::kInvalidArgument);
  EXPECT_NE(e.error().message.find("'severity'"), std::string::npos);
  auto t = Filter::from_params({{"since", "yesterday"}});
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find("'since'"), std::string::npos);
  auto order =
      Filter::from_params({{"since", "2026-11-26T10:00:00Z"}, {"until", "2026-11-26T09:00:00Z"}});
  ASSERT_FALSE(order.ok());
  EXPECT_NE(order.error().message.find("'until'"), std::string::npos);
  auto type = Filter::from_json({{"service", 5}});
  ASSERT_FALSE(type.ok());
  EXPECT_NE(type.error().message.find("'service'"), std::string::npos);
}

TEST(Filter, EmptyValuesAreNotGivenAndOtherParamsAreIgnored) {
  Filter f = Filter::from_params({{"service", ""}, {"limit", "5"}, {"unrelated", "x"}}).value();
  EXPECT_TRUE(f.empty());
}

TEST(Filter, JsonRoundTrip) {
  Filter f =
      Filter::from_params(
          {{"service", "orders"}, {"min_severity", "warn"}, {"since", "2026-11-26T09:00:00Z"}})
          .value();
  EXPECT_EQ(Filter::from_json(f.to_json()).value(), f);
}

TEST(Query, DefaultsLimitsAndCursor) {
  Query q = Query::from_json(nlohmann::json::object()).value();
  EXPECT_EQ(q.limit, kDefaultLimit);
  EXPECT_FALSE(q.cursor);
  EXPECT_EQ(Query::from_json({{"limit", 1000}}).value().limit, 1000U);
  EXPECT_EQ(Query::from_params({{"limit", "7"}}).value().limit, 7U);
  for (auto bad : {nlohmann::json{{"limit", 0}}, nlohmann::json{{"limit", 1001}},
                   nlohmann::json{{"limit", "x"}}}) {
    auto r = Query::from_json(bad);
    ASSERT_FALSE(r.ok()) << bad.dump();
    EXPECT_EQ(r.error().code, codes::kInvalidArgument);
    EXPECT_NE(r.error().message.find("'limit'"), std::string::npos);
  }
  auto c = Query::from_json({{"cursor", "garbage"}});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("'cursor'"), std::string::npos);
  auto unknown = Query::from_json({{"sevrity", "info"}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("'sevrity'"), std::string::npos);
}

TEST(Query, CursorEncodesAndDecodes) {
  Cursor c{123456, 789, 1764149172345};
  EXPECT_EQ(Cursor::decode(c.encode()), c);
  EXPECT_FALSE(Cursor::decode("1-2"));
  EXPECT_FALSE(Cursor::decode("a-b-c"));
  Query q = Query::from_json({{"cursor", c.encode()}, {"service", "x"}}).value();
  EXPECT_EQ(q.cursor, c);
  EXPECT_EQ(Query::from_json(q.to_json()).value().cursor, c);
}

TEST(QueryPage, JsonRoundTrip) {
  QueryPage p;
  p.records.push_back(rec("2026-11-26T09:26:12.345Z", "a", Severity::kInfo, "x"));
  p.next_cursor = "1-2-3";
  auto back = QueryPage::from_json(p.to_json());
  EXPECT_EQ(back.records, p.records);
  EXPECT_EQ(back.next_cursor, p.next_cursor);
  EXPECT_FALSE(QueryPage::from_json({{"records", nlohmann::json::array()}}).next_cursor);
}

}  // namespace
}  // namespace wonderland::log_store
