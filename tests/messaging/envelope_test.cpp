#include "wonderland/messaging/envelope.hpp"

#include <gtest/gtest.h>

#include "wonderland/common/ids.hpp"
#include "wonderland/common/time.hpp"

namespace wonderland::messaging {
namespace {

TEST(EnvelopeTest, RoundTripsEveryField) {
  Envelope e =
      Envelope::make("inventory.reserve", {{"isbn", "9781492043454"}, {"qty", 2}}, "mediator");
  e.correlation_id = new_uuid();
  e.causation_id = new_uuid();
  e.idempotency_key = "wf:reserve";
  Envelope back = Envelope::parse(e.serialize());
  EXPECT_EQ(back.message_id, e.message_id);
  EXPECT_EQ(back.type, "inventory.reserve");
  EXPECT_EQ(back.correlation_id, e.correlation_id);
  EXPECT_EQ(back.causation_id, e.causation_id);
  EXPECT_EQ(back.source, "mediator");
  EXPECT_EQ(back.timestamp, e.timestamp);
  EXPECT_EQ(back.traceparent, e.traceparent);
  EXPECT_EQ(back.idempotency_key, "wf:reserve");
  EXPECT_EQ(back.body, e.body);
  EXPECT_FALSE(back.error);
  EXPECT_TRUE(is_uuid(back.message_id));
  EXPECT_TRUE(parse_iso8601(back.timestamp));
}

TEST(EnvelopeTest, CarriesErrorReplies) {
  Envelope e = Envelope::make("payment.charge.reply", nlohmann::json::object());
  e.error = Error::of(codes::kFailedPrecondition, "card declined");
  Envelope back = Envelope::parse(e.serialize());
  ASSERT_TRUE(back.error);
  EXPECT_EQ(*back.error, *e.error);
}

/// The text nlohmann::json gives for the same document: what serialize() must equal.
std::string document_text(const Envelope& e) {
  nlohmann::json j = {{"message_id", e.message_id},
                      {"type", e.type},
                      {"correlation_id", e.correlation_id},
                      {"causation_id", e.causation_id},
                      {"source", e.source},
                      {"timestamp", e.timestamp},
                      {"traceparent", e.traceparent},
                      {"idempotency_key", e.idempotency_key},
                      {"body", e.body}};
  if (e.error)
    j["error"] = e.error->to_json();
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

TEST(EnvelopeTest, SerializesToTheSameTextAsTheWholeDocument) {
  Envelope e =
      Envelope::make("order.confirmed",
                     {{"items", {{{"isbn", "9781492043454"}, {"qty", 2}, {"price", 12.5}}}},
                      {"note", "quote \" backslash \\ tab \t line\n\x01 caf\xc3\xa9 bad \xff end"},
                      {"empty", nlohmann::json::object()},
                      {"none", nullptr},
                      {"big", -9007199254740993LL}},
                     "mediator \"one\"");
  e.correlation_id = "order-\x7f";
  e.idempotency_key = "wf:\xc3";
  EXPECT_EQ(e.serialize(), document_text(e));
  e.error = Error::invalid("card \"declined\"", {{"payment.cvv", "is \xff wrong"}});
  e.body = nlohmann::json::object();
  EXPECT_EQ(e.serialize(), document_text(e));
}

TEST(EnvelopeTest, CausedByKeepsCorrelationAndTrace) {
  Envelope cause = Envelope::make("a", {});
  cause.correlation_id = "order-1";
  Envelope effect = Envelope::caused_by(cause, "b", {});
  EXPECT_EQ(effect.correlation_id, "order-1");
  EXPECT_EQ(effect.causation_id, cause.message_id);
  EXPECT_EQ(effect.traceparent, cause.traceparent);
  EXPECT_NE(effect.message_id, cause.message_id);
}

TEST(EnvelopeTest, TraceparentIsW3cShaped) {
  std::string t = new_traceparent();
  ASSERT_EQ(t.size(), 55u);
  EXPECT_EQ(t.substr(0, 3), "00-");
  EXPECT_EQ(t.substr(52), "-01");
}

TEST(EnvelopeTest, RejectsMalformedInputWithAReason) {
  auto reason = [](std::string_view wire) {
    try {
      (void)Envelope::parse(wire);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(reason("{not json"), "body is not valid JSON");
  EXPECT_EQ(reason("[1,2]"), "envelope must be a JSON object");
  EXPECT_EQ(reason(R"({"type":"x"})"), "envelope field 'message_id' is missing");
  EXPECT_EQ(reason(R"({"message_id":"m","type":5})"), "envelope field 'type' must be a string");
  // Bounded before parsing: depth 128 is the limit, 200,000 levels cost one pass.
  const std::string head = R"({"message_id":"m","type":"t","body":)";
  auto nested = [&](std::size_t depth) {
    return head + std::string(depth, '[') + std::string(depth, ']') + "}";
  };
  EXPECT_EQ(reason(nested(127)), "accepted");
  EXPECT_EQ(reason(nested(128)), "envelope: nesting depth exceeds the limit of 128 (at byte " +
                                     std::to_string(head.size() + 127) + ")");
  EXPECT_EQ(reason(nested(200'000)), "envelope: nesting depth exceeds the limit of 128 (at byte " +
                                         std::to_string(head.size() + 127) + ")");
}

}  // namespace
}  // namespace wonderland::messaging
