#include "wonderland/log_service/protocol.hpp"

#include "wonderland/common/ids.hpp"
#include "wonderland/common/json_text.hpp"
#include "wonderland/common/time.hpp"

namespace wonderland::log_service {
namespace {

SystemTime envelope_time(const messaging::Envelope& e) {
  if (auto t = log_store::parse_timestamp(e.timestamp))
    return *t;
  return std::chrono::system_clock::now();
}

}  // namespace

log_store::Record record_from_log_envelope(const messaging::Envelope& e,
                                           std::string_view routing_key) {
  log_store::Defaults d;
  d.time = envelope_time(e);
  d.service = e.source;
  d.severity = log_store::parse_severity(routing_key).value_or(log_store::Severity::kInfo);
  d.correlation_id = e.correlation_id;
  return log_store::record_from_log_body(e.body, d);
}

log_store::Record record_from_workflow_envelope(const messaging::Envelope& e) {
  return log_store::record_from_workflow_event(e.type, e.source.empty() ? "mediator" : e.source,
                                               e.correlation_id, envelope_time(e), e.body);
}

messaging::Envelope workflow_event_envelope(const messaging::Envelope& batch,
                                            const nlohmann::json& event, std::size_t index) {
  // Every field but the body, which holds the whole batch: copying it per event made a batch of
  // n events cost n copies of itself.
  messaging::Envelope one;
  one.type = batch.type;
  one.correlation_id = batch.correlation_id;
  one.causation_id = batch.causation_id;
  one.source = batch.source;
  one.timestamp = batch.timestamp;
  one.traceparent = batch.traceparent;
  one.idempotency_key = batch.idempotency_key;
  one.message_id = batch.message_id + ":" + std::to_string(index);
  one.body = event.is_object() ? event : nlohmann::json::object();
  one.type = "workflow." + one.body.value("type", std::string("event"));
  one.correlation_id = one.body.value("workflow_id", batch.correlation_id);
  if (auto at = one.body.find("at"); at != one.body.end() && at->is_string())
    one.timestamp = *at;
  return one;
}

std::string live_routing_key(const log_store::Record& r) {
  std::string key(log_store::to_string(r.severity));
  key += '.';
  key += r.service.empty() ? std::string("unknown") : r.service;
  return key;
}

messaging::Envelope live_envelope(const log_store::Record& r) {
  messaging::Envelope e;
  e.message_id = new_uuid();
  e.type = kRecordType;
  e.correlation_id = r.correlation_id;
  e.source = r.service;
  e.timestamp = format_iso8601(r.time);
  e.body = log_store::to_json(r);
  return e;
}

std::string live_wire(const log_store::Record& r, std::string_view fields_json,
                      const std::string& message_id) {
  const std::string timestamp = format_iso8601(r.time);
  std::string out;
  out.reserve(320 + r.message.size() + fields_json.size());
  out += "{\"message_id\":";
  append_json_string(out, message_id);
  out += ",\"type\":\"";
  out += kRecordType;
  out += "\",\"correlation_id\":";
  append_json_string(out, r.correlation_id);
  out += ",\"causation_id\":\"\",\"source\":";
  append_json_string(out, r.service);
  out += ",\"timestamp\":\"";
  out += timestamp;
  out += "\",\"traceparent\":\"\",\"idempotency_key\":\"\",\"body\":{\"timestamp\":\"";
  out += timestamp;
  out += "\",\"service\":";
  append_json_string(out, r.service);
  out += ",\"severity\":\"";
  out += log_store::to_string(r.severity);
  out += "\",\"correlation_id\":";
  append_json_string(out, r.correlation_id);
  out += ",\"message\":";
  append_json_string(out, r.message);
  out += ",\"fields\":";
  out += fields_json.empty() ? std::string_view("{}") : fields_json;
  out += "}}";
  return out;
}

std::optional<log_store::Record> record_from_live(const messaging::Envelope& e) {
  if (e.type != kRecordType)
    return std::nullopt;
  try {
    return log_store::record_from_json(e.body);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

void declare_live_exchange(messaging::Connection& connection,
                           const messaging::ExchangeName& exchange) {
  connection.declare(messaging::ExchangeSpec{exchange, messaging::ExchangeType::kTopic, false});
}

}  // namespace wonderland::log_service
