// Envelope ↔ record conversions and live routing, without a broker.
#include "wonderland/log_service/protocol.hpp"

#include <gtest/gtest.h>

#include "wonderland/common/time.hpp"
#include "wonderland/log_service/live.hpp"
#include "wonderland/log_service/service.hpp"

namespace wonderland::log_service {
namespace {

using log_store::Filter;
using log_store::Severity;

TEST(Protocol, LogEnvelopeBodyWins) {
  auto e = messaging::Envelope::make(kRecordType,
                                     {{"timestamp", "2026-11-26T09:26:12.345Z"},
                                      {"service", "orders"},
                                      {"severity", "error"},
                                      {"correlation_id", "c-1"},
                                      {"message", "payment declined"},
                                      {"fields", {{"order_id", 42}}}},
                                     "orders");
  auto r = record_from_log_envelope(e, "error");
  EXPECT_EQ(format_iso8601(r.time), "2026-11-26T09:26:12.345Z");
  EXPECT_EQ(r.service, "orders");
  EXPECT_EQ(r.severity, Severity::kError);
  EXPECT_EQ(r.correlation_id, "c-1");
  EXPECT_EQ(r.message, "payment declined");
  EXPECT_EQ(r.fields, (nlohmann::json{{"order_id", 42}}));
}

TEST(Protocol, ASparseBodyFallsBackToTheEnvelopeAndRoutingKey) {
  auto e = messaging::Envelope::make(kRecordType, {{"message", "hi"}}, "inventory");
  e.correlation_id = "wf-7";
  auto r = record_from_log_envelope(e, "warning");
  EXPECT_EQ(r.service, "inventory");
  EXPECT_EQ(r.severity, Severity::kWarning);
  EXPECT_EQ(r.correlation_id, "wf-7");
  EXPECT_EQ(r.time, *log_store::parse_timestamp(e.timestamp));
}

TEST(Protocol, EachRecordOfABatchIsTheRecordItWouldBeAlone) {
  auto batch = messaging::Envelope::make(kRecordBatchType,
                                         {{"records",
                                           {{{"timestamp", "2026-11-26T09:26:12.345Z"},
                                             {"service", "orders"},
                                             {"severity", "info"},
                                             {"correlation_id", "c-1"},
                                             {"message", "reserved"},
                                             {"fields", {{"sku", "b-1"}}}},
                                            {{"message", "sparse"}}}}},
                                         "orders");
  const auto& list = batch.body["records"];
  auto first = batched_log_record(batch, "info", list[0], 0);
  EXPECT_EQ(first.id, batch.message_id + ":0");
  EXPECT_EQ(format_iso8601(first.record.time), "2026-11-26T09:26:12.345Z");
  EXPECT_EQ(first.record.service, "orders");
  EXPECT_EQ(first.record.correlation_id, "c-1");
  EXPECT_EQ(first.record.message, "reserved");
  EXPECT_EQ(first.record.fields, (nlohmann::json{{"sku", "b-1"}}));
  // The same body sent alone as a log.record makes the same record.
  auto alone = messaging::Envelope::make(kRecordType, list[0], "orders");
  const auto single = record_from_log_envelope(alone, "info");
  EXPECT_EQ(single.time, first.record.time);
  EXPECT_EQ(single.message, first.record.message);
  EXPECT_EQ(single.fields, first.record.fields);

  auto second = batched_log_record(batch, "warning", list[1], 1);
  EXPECT_EQ(second.id, batch.message_id + ":1");
  EXPECT_EQ(second.record.service, "orders");             // the batch's source
  EXPECT_EQ(second.record.severity, Severity::kWarning);  // the routing key
  EXPECT_EQ(second.record.correlation_id, "");
  EXPECT_EQ(second.record.time, *log_store::parse_timestamp(batch.timestamp));
}

TEST(Protocol, WorkflowEnvelope) {
  auto e = messaging::Envelope::make("workflow.step_failed",
                                     {{"step", "charge"}, {"reason", "card declined"}}, "mediator");
  e.correlation_id = "wf-1";
  auto r = record_from_workflow_envelope(e);
  EXPECT_EQ(r.severity, Severity::kError);
  EXPECT_EQ(r.correlation_id, "wf-1");
  EXPECT_EQ(r.message, "workflow.step_failed: step=charge, reason=card declined");
  e.source.clear();
  EXPECT_EQ(record_from_workflow_envelope(e).service, "mediator");
}

TEST(Protocol, LiveEnvelopeRoundTrips) {
  log_store::Record r;
  r.time = *log_store::parse_timestamp("2026-11-26T09:26:12.345Z");
  r.service = "orders";
  r.severity = Severity::kInfo;
  r.message = "Müller — 東京";
  r.fields = {{"a", 1}};
  auto e = live_envelope(r);
  EXPECT_EQ(live_routing_key(r), "info.orders");
  auto wire = messaging::Envelope::parse(e.serialize());
  EXPECT_EQ(record_from_live(wire), r);
  wire.type = "something.else";
  EXPECT_FALSE(record_from_live(wire));
}

TEST(Protocol, LiveWireIsTheSameEnvelopeBuiltDirectly) {
  log_store::Record r;
  r.time = *log_store::parse_timestamp("2026-11-26T09:26:12.345Z");
  r.service = "orders \"east\"";
  r.severity = Severity::kWarning;
  r.correlation_id = "c-1";
  for (const std::string& message :
       {std::string("plain"), std::string("tab\tquote\"backslash\\ nl\n cr\r bell\x07"),
        std::string("Müller — 東京"), std::string("bad utf-8 \xff")}) {
    r.message = message;
    r.fields = {{"a", 1}, {"b", "x\"y"}};
    auto e = messaging::Envelope::parse(live_wire(r, log_store::dump_compact(r.fields), "id-1"));
    EXPECT_EQ(e.message_id, "id-1");
    EXPECT_EQ(e.type, kRecordType);
    EXPECT_EQ(e.source, r.service);
    EXPECT_EQ(e.correlation_id, "c-1");
    auto back = record_from_live(e);
    ASSERT_TRUE(back);
    if (message.find('\xff') == std::string::npos) {
      EXPECT_EQ(*back, r);
    } else {
      EXPECT_EQ(back->message, "bad utf-8 \xEF\xBF\xBD");
    }
  }
}

TEST(Live, BindingKeysAreAsNarrowAsTheFilterAllows) {
  EXPECT_EQ(live_binding_keys(Filter{}), (std::vector<std::string>{"#"}));
  EXPECT_EQ(
      live_binding_keys(Filter::from_params({{"service", "orders"}}).value()),
      (std::vector<std::string>{"debug.orders", "info.orders", "warning.orders", "error.orders"}));
  EXPECT_EQ(live_binding_keys(Filter::from_params({{"min_severity", "warning"}}).value()),
            (std::vector<std::string>{"warning.#", "error.#"}));
  EXPECT_EQ(
      live_binding_keys(Filter::from_params({{"severity", "error"}, {"service", "a.b"}}).value()),
      (std::vector<std::string>{"error.#"}));
  EXPECT_TRUE(live_binding_keys(
                  Filter::from_params({{"severity", "info"}, {"min_severity", "error"}}).value())
                  .empty());
}

TEST(ServiceOptions, FromEnvironment) {
  ::setenv("WONDERLAND_LOG_DIR", "/tmp/somewhere", 1);
  ::setenv("WONDERLAND_LOG_MAX_BYTES", "2048", 1);
  ::setenv("WONDERLAND_LOG_MAX_FILES", "3", 1);
  auto o = ServiceOptions::from_env();
  EXPECT_EQ(o.store.writer.dir, "/tmp/somewhere");
  EXPECT_EQ(o.store.writer.max_bytes, 2048U);
  EXPECT_EQ(o.store.writer.max_files, 3U);
  EXPECT_EQ(o.topology.records_queue.str(), "logging.records");
  ::setenv("WONDERLAND_LOG_MAX_FILES", "0", 1);
  EXPECT_THROW(ServiceOptions::from_env(), std::invalid_argument);
  ::unsetenv("WONDERLAND_LOG_MAX_FILES");
  ::unsetenv("WONDERLAND_LOG_DIR");
  ::unsetenv("WONDERLAND_LOG_MAX_BYTES");
  ::unsetenv("WONDERLAND_VAR_DIR");
  EXPECT_EQ(ServiceOptions::from_env().store.writer.dir, "var/logs/csv");
}

}  // namespace
}  // namespace wonderland::log_service

namespace wonderland::log_service {
namespace {

TEST(WorkflowBatch, EachEventBecomesItsOwnRecord) {
  messaging::Envelope batch = messaging::Envelope::make(
      kWorkflowBatchType,
      {{"events",
        {{{"workflow_id", "wf-1"},
          {"type", "step_succeeded"},
          {"step", "reserve"},
          {"at", "2026-11-26T10:00:00.000Z"}},
         {{"workflow_id", "wf-2"}, {"type", "failed"}, {"at", "2026-11-26T10:00:01.000Z"}}}}},
      "mediator");
  auto first = batched_workflow_event(batch, batch.body["events"][0], 0);
  auto second = batched_workflow_event(batch, batch.body["events"][1], 1);
  EXPECT_EQ(first.record.message, "workflow.step_succeeded: step=reserve");
  EXPECT_EQ(first.record.correlation_id, "wf-1");
  EXPECT_EQ(format_iso8601(first.record.time), "2026-11-26T10:00:00.000Z");
  EXPECT_EQ(first.record.fields, batch.body["events"][0]);
  EXPECT_EQ(second.record.correlation_id, "wf-2");
  EXPECT_NE(first.id, second.id);
  EXPECT_EQ(first.id, batch.message_id + ":0");
  const auto& record = second.record;
  EXPECT_EQ(record.message, "workflow.failed");
  EXPECT_EQ(record.service, "mediator");
  EXPECT_EQ(record.severity, log_store::Severity::kError);
}

TEST(WorkflowBatch, AnEventWithoutItsFieldsFallsBackToTheBatch) {
  messaging::Envelope batch =
      messaging::Envelope::make(kWorkflowBatchType, {{"events", {42, {{"type", 7}}}}}, "");
  batch.correlation_id = "batch-flow";
  batch.timestamp = "2026-11-26T09:00:00.000Z";
  for (std::size_t i = 0; i < 2; ++i) {
    auto e = batched_workflow_event(batch, batch.body["events"][i], i);
    EXPECT_EQ(e.record.message, "workflow.event");
    EXPECT_EQ(e.record.correlation_id, "batch-flow");
    EXPECT_EQ(e.record.service, "mediator");
    EXPECT_EQ(format_iso8601(e.record.time), "2026-11-26T09:00:00.000Z");
  }
}

}  // namespace
}  // namespace wonderland::log_service
