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

BatchedRecord batched_log_record(const messaging::Envelope& batch, std::string_view routing_key,
                                 const nlohmann::json& element, std::size_t index) {
  log_store::Defaults d;
  d.time = envelope_time(batch);
  d.service = batch.source;
  d.severity = log_store::parse_severity(routing_key).value_or(log_store::Severity::kInfo);
  return {batch.message_id + ":" + std::to_string(index),
          log_store::record_from_log_body(element, d)};
}

log_store::Record record_from_workflow_envelope(const messaging::Envelope& e) {
  return log_store::record_from_workflow_event(e.type, e.source.empty() ? "mediator" : e.source,
                                               e.correlation_id, envelope_time(e), e.body);
}

BatchedRecord batched_workflow_event(const messaging::Envelope& batch, const nlohmann::json& event,
                                     std::size_t index) {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  const nlohmann::json& body = event.is_object() ? event : kEmpty;
  auto text = [&body](const char* key) -> const std::string* {
    auto it = body.find(key);
    return it != body.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
  };
  const std::string* type = text("type");
  const std::string* workflow_id = text("workflow_id");
  const std::string* at = text("at");
  SystemTime time = std::chrono::system_clock::now();
  if (auto t = log_store::parse_timestamp(at != nullptr ? *at : batch.timestamp))
    time = *t;
  return {batch.message_id + ":" + std::to_string(index),
          log_store::record_from_workflow_event(
              "workflow." + (type != nullptr ? *type : std::string("event")),
              batch.source.empty() ? "mediator" : batch.source,
              workflow_id != nullptr ? *workflow_id : batch.correlation_id, time, body)};
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
