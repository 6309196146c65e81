#include "wonderland/log/record.hpp"

#include <gtest/gtest.h>

#include <string_view>

#include "wonderland/common/ids.hpp"
#include "wonderland/log/secrets.hpp"

namespace wonderland::log {
namespace {

using namespace std::chrono;

SystemTime fixed_time() {
  return sys_days{year{2026} / 11 / 26} + hours{9} + minutes{26} + seconds{12} + milliseconds{345};
}

Record sample() {
  Record r;
  r.time = fixed_time();
  r.severity = Severity::kWarning;
  r.service = "orders";
  r.correlation_id = "c-1";
  r.message = "order placed";
  r.fields = {{"order_id", 42}, {"note", "two words"}};
  return r;
}

bool is_lower_hex(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// "00-<32 hex>-<16 hex>-01"
bool is_traceparent(std::string_view s) {
  return s.size() == 55 && s.substr(0, 3) == "00-" && is_lower_hex(s.substr(3, 32)) &&
         s[35] == '-' && is_lower_hex(s.substr(36, 16)) && s.substr(52) == "-01";
}

TEST(Severity, NamesAreTheRoutingKeys) {
  EXPECT_EQ(to_string(Severity::kDebug), "debug");
  EXPECT_EQ(to_string(Severity::kInfo), "info");
  EXPECT_EQ(to_string(Severity::kWarning), "warning");
  EXPECT_EQ(to_string(Severity::kError), "error");
}

TEST(Severity, ParsesNamesAndSpdlogSpellings) {
  EXPECT_EQ(parse_severity("debug"), Severity::kDebug);
  EXPECT_EQ(parse_severity("INFO"), Severity::kInfo);
  EXPECT_EQ(parse_severity("Warning"), Severity::kWarning);
  EXPECT_EQ(parse_severity("error"), Severity::kError);
  EXPECT_EQ(parse_severity("trace"), Severity::kDebug);
  EXPECT_EQ(parse_severity("warn"), Severity::kWarning);
  EXPECT_EQ(parse_severity("err"), Severity::kError);
  EXPECT_EQ(parse_severity("critical"), Severity::kError);
  EXPECT_EQ(parse_severity(""), std::nullopt);
  EXPECT_EQ(parse_severity("verbose"), std::nullopt);
  EXPECT_EQ(parse_severity("info "), std::nullopt);
}

TEST(Severity, MapsSpdlogLevels) {
  EXPECT_EQ(from_spdlog(spdlog::level::trace), Severity::kDebug);
  EXPECT_EQ(from_spdlog(spdlog::level::debug), Severity::kDebug);
  EXPECT_EQ(from_spdlog(spdlog::level::info), Severity::kInfo);
  EXPECT_EQ(from_spdlog(spdlog::level::warn), Severity::kWarning);
  EXPECT_EQ(from_spdlog(spdlog::level::err), Severity::kError);
  EXPECT_EQ(from_spdlog(spdlog::level::critical), Severity::kError);
  for (auto s : {Severity::kDebug, Severity::kInfo, Severity::kWarning, Severity::kError}) {
    EXPECT_EQ(from_spdlog(to_spdlog(s)), s);
  }
  EXPECT_EQ(to_spdlog(Severity::kWarning), spdlog::level::warn);
  EXPECT_EQ(to_spdlog(Severity::kError), spdlog::level::err);
}

TEST(FormatLine, HasTimeLevelServiceCorrelationMessageAndFields) {
  EXPECT_EQ(format_line(sample()),
            "2026-11-26T09:26:12.345Z WARNING orders corr=c-1 order placed | "
            "note=\"two words\" order_id=42");
}

TEST(FormatLine, PadsLevelsToOneWidth) {
  Record r = sample();
  r.fields = nlohmann::json::object();
  r.severity = Severity::kInfo;
  EXPECT_EQ(format_line(r), "2026-11-26T09:26:12.345Z INFO    orders corr=c-1 order placed");
  r.severity = Severity::kDebug;
  EXPECT_EQ(format_line(r), "2026-11-26T09:26:12.345Z DEBUG   orders corr=c-1 order placed");
  r.severity = Severity::kError;
  EXPECT_EQ(format_line(r), "2026-11-26T09:26:12.345Z ERROR   orders corr=c-1 order placed");
}

TEST(FormatLine, MarksAMissingCorrelationId) {
  Record r = sample();
  r.correlation_id.clear();
  r.fields = nlohmann::json::object();
  EXPECT_EQ(format_line(r), "2026-11-26T09:26:12.345Z WARNING orders corr=- order placed");
}

TEST(FormatLine, KeepsARecordOnOneLine) {
  Record r = sample();
  r.message = "first\nsecond\r\tthird\x01";
  r.fields = {{"text", "a\nb"}};
  const std::string line = format_line(r);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_NE(line.find("first\\nsecond\\r\\tthird\\x01"), std::string::npos) << line;
  EXPECT_NE(line.find("text=\"a\\nb\""), std::string::npos) << line;
}

TEST(FormatLine, WritesPlainWordsBareAndEverythingElseAsJson) {
  Record r = sample();
  r.fields = {{"word", "abc-123"},    {"spaced", "a b"}, {"eq", "k=v"},
              {"empty", ""},          {"number", 12.5},  {"flag", true},
              {"nothing", nullptr},   {"list", {1, 2}},  {"object", {{"k", "v"}}},
              {"quote", "say \"hi\""}};
  const std::string line = format_line(r);
  EXPECT_NE(line.find(" word=abc-123"), std::string::npos) << line;
  EXPECT_NE(line.find(" spaced=\"a b\""), std::string::npos) << line;
  EXPECT_NE(line.find(" eq=\"k=v\""), std::string::npos) << line;
  EXPECT_NE(line.find(" empty=\"\""), std::string::npos) << line;
  EXPECT_NE(line.find(" number=12.5"), std::string::npos) << line;
  EXPECT_NE(line.find(" flag=true"), std::string::npos) << line;
  EXPECT_NE(line.find(" nothing=null"), std::string::npos) << line;
  EXPECT_NE(line.find(" list=[1,2]"), std::string::npos) << line;
  EXPECT_NE(line.find(" object={\"k\":\"v\"}"), std::string::npos) << line;
  EXPECT_NE(line.find(" quote=\"say \\\"hi\\\"\""), std::string::npos) << line;
}

TEST(Body, HasTheDocumentedShape) {
  const nlohmann::json expected = {{"timestamp", "2026-11-26T09:26:12.345Z"},
                                   {"service", "orders"},
                                   {"severity", "warning"},
                                   {"correlation_id", "c-1"},
                                   {"message", "order placed"},
                                   {"fields", {{"order_id", 42}, {"note", "two words"}}}};
  EXPECT_EQ(to_body(sample()), expected);
}

TEST(Body, ReplacesInvalidUtf8SoThatItAlwaysSerializes) {
  Record r = sample();
  r.message = "bad \xC3\x28 byte, good \xC3\xA9";
  r.fields = {{"raw", "\xFF\xFE"}, {"nested", {{"list", {"ok", "\xED\xA0\x80"}}}}};
  const nlohmann::json body = to_body(r);
  EXPECT_NO_THROW((void)body.dump());
  EXPECT_EQ(body["message"], "bad \xEF\xBF\xBD( byte, good \xC3\xA9");
  EXPECT_EQ(body["fields"]["raw"], "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(body["fields"]["nested"]["list"][1], "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(Body, WrapsFieldsThatAreNotAnObject) {
  Record r = sample();
  r.fields = 7;
  EXPECT_EQ(to_body(r)["fields"], (nlohmann::json{{"value", 7}}));
}

TEST(Envelope, IsALogRecordFromTheService) {
  const messaging::Envelope e = to_envelope(sample());
  EXPECT_EQ(e.type, "log.record");
  EXPECT_EQ(e.source, "orders");
  EXPECT_EQ(e.correlation_id, "c-1");
  EXPECT_EQ(e.timestamp, "2026-11-26T09:26:12.345Z");
  EXPECT_TRUE(is_uuid(e.message_id)) << e.message_id;
  EXPECT_TRUE(is_traceparent(e.traceparent)) << e.traceparent;
  EXPECT_EQ(e.body, to_body(sample()));
  EXPECT_FALSE(e.error.has_value());
  EXPECT_NE(to_envelope(sample()).message_id, e.message_id);
}

TEST(MaskCard, KeepsOnlyTheLastFourDigits) {
  EXPECT_EQ(mask_card("4242 4242 4242 4242"), "**** **** **** 4242");
  EXPECT_EQ(mask_card("4000-0566-5566-5556"), "**** **** **** 5556");
  EXPECT_EQ(mask_card("5105105105105100"), "**** **** **** 5100");
  EXPECT_EQ(mask_card("6011 0009 9013 9424 123"), "**** **** **** 4123");
  EXPECT_EQ(mask_card("378282246310005"), "**** **** **** 0005");
}

TEST(MaskCard, RevealsNothingOfShortNumbers) {
  EXPECT_EQ(mask_card(""), "****");
  EXPECT_EQ(mask_card("123"), "****");
  EXPECT_EQ(mask_card("1234"), "****");
  EXPECT_EQ(mask_card("12345678901"), "****");
  EXPECT_EQ(mask_card("not a number"), "****");
}

TEST(MaskCard, NeverContainsTheOtherDigits) {
  const std::string masked = mask_card("1111 2222 3333 9876");
  EXPECT_EQ(masked.find('1'), std::string::npos);
  EXPECT_EQ(masked.find('2'), std::string::npos);
  EXPECT_EQ(masked.find('3'), std::string::npos);
}

}  // namespace
}  // namespace wonderland::log
