// The workflow event feed's text form: the same document the feed always sent, redacted.
#include "wonderland/mediator/event_feed.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "wonderland/common/json_text.hpp"
#include "wonderland/mediator/redact.hpp"

namespace wonderland::mediator {
namespace {

using nlohmann::json;

/// The event as a document, built member by member: what to_text must write.
json document(const workflow::WorkflowEvent& event) {
  const auto& r = event.record;
  json j{{"workflow_id", r.workflow_id},
         {"definition", event.definition},
         {"version", event.version},
         {"seq", r.seq},
         {"type", r.type},
         {"step", r.step},
         {"attempt", r.attempt},
         {"at", r.at},
         {"data", redact(r.data)}};
  if (r.status)
    j["status"] = std::string(workflow::to_string(*r.status));
  return j;
}

workflow::JournalRecord record(json data, std::optional<workflow::WorkflowStatus> status) {
  workflow::JournalRecord r;
  r.workflow_id = "wf-\"1\"";
  r.seq = 7;
  r.type = "step_succeeded";
  r.step = "fulfil/0/confirm";
  r.attempt = 2;
  r.at = "2026-12-05T00:00:00.123Z";
  r.data = std::move(data);
  r.status = status;
  return r;
}

TEST(EventFeedText, IsTheEventDocumentWithItsDataRedacted) {
  const std::string definition = "purchase";
  const json plain{{"output", {{"items", {{{"isbn", "9781942788812"}, {"qty", 2}}}}}},
                   {"duration_ms", 1.5}};
  const json secret{{"input",
                     {{"payment", {{"token", "tok-123"}, {"masked", "**** 4242"}}},
                      {"list", {{{"card_number", "4242 4242 4242 4242"}, {"expiry", "11/31"}}}}}}};
  for (const json& data : {plain, secret, json::object(), json("caf\xc3\xa9 \xff")}) {
    for (auto status : {std::optional<workflow::WorkflowStatus>{},
                        std::optional{workflow::WorkflowStatus::kFailed}}) {
      const auto r = record(data, status);
      const workflow::WorkflowEvent event{r, definition, 2};
      const std::string text = EventFeed::to_text(event);
      EXPECT_EQ(text, to_json_text(document(event)))
          << data.dump(-1, ' ', false, json::error_handler_t::replace);
      EXPECT_TRUE(json::accept(text)) << text;
    }
  }
  const auto r = record(secret, std::nullopt);
  const std::string text = EventFeed::to_text(workflow::WorkflowEvent{r, definition, 2});
  EXPECT_EQ(text.find("tok-123"), std::string::npos);
  EXPECT_EQ(text.find("4242 4242"), std::string::npos);
  EXPECT_EQ(text.find("11/31"), std::string::npos);
}

TEST(EventFeedText, RedactedTextCopiesNothingItNeedNot) {
  const json plain{{"a", {1, 2, {{"b", "c"}}}}};
  std::string out;
  append_redacted_json(out, plain);
  EXPECT_EQ(out, to_json_text(plain));
  const json nested{{"a", {1, {{"deep", {{"password", "pw"}}}}}}};
  out.clear();
  append_redacted_json(out, nested);
  EXPECT_EQ(out, to_json_text(redact(nested)));
  EXPECT_EQ(out.find("pw\""), std::string::npos);
}

}  // namespace
}  // namespace wonderland::mediator
