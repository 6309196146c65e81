#include "wonderland/messaging/envelope.hpp"

#include <stdexcept>
#include <string_view>

#include "wonderland/common/ids.hpp"
#include "wonderland/common/json_limits.hpp"
#include "wonderland/common/json_parse.hpp"
#include "wonderland/common/json_text.hpp"
#include "wonderland/common/time.hpp"

namespace wonderland::messaging {
namespace {

std::string field(nlohmann::json& j, const char* name, bool required) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) {
    if (required)
      throw std::invalid_argument(std::string("envelope field '") + name + "' is missing");
    return {};
  }
  if (!it->is_string()) {
    throw std::invalid_argument(std::string("envelope field '") + name + "' must be a string");
  }
  return std::move(it->get_ref<std::string&>());
}

}  // namespace

std::string new_traceparent() {
  return "00-" + fast_random_hex(16) + "-" + fast_random_hex(8) + "-01";
}

namespace {
Envelope fresh(std::string type, nlohmann::json body, std::string source, std::string traceparent) {
  Envelope e;
  e.message_id = new_uuid();
  e.type = std::move(type);
  e.source = std::move(source);
  e.timestamp = now_iso8601();
  e.traceparent = traceparent.empty() ? new_traceparent() : std::move(traceparent);
  e.body = std::move(body);
  return e;
}
}  // namespace

Envelope Envelope::make(std::string type, nlohmann::json body, std::string source) {
  return fresh(std::move(type), std::move(body), std::move(source), {});
}

Envelope Envelope::caused_by(const Envelope& cause, std::string type, nlohmann::json body,
                             std::string source) {
  Envelope e = fresh(std::move(type), std::move(body), std::move(source), cause.traceparent);
  e.correlation_id = cause.correlation_id;
  e.causation_id = cause.message_id;
  return e;
}

std::string Envelope::serialize() const {
  std::string out;
  out.reserve(256);
  out += "{\"body\":";
  append_json(out, body);
  append_header(out);
  return out;
}

std::string Envelope::serialize_with_body(std::string_view body_json) const {
  std::string out;
  out.reserve(body_json.size() + 256);
  out += "{\"body\":";
  out += body_json;
  append_header(out);
  return out;
}

void Envelope::append_header(std::string& out) const {
  // Written field by field, in the order nlohmann::json gives its members (sorted), without
  // building a document first: the body (often a whole workflow step's data or a batch of
  // events) is not copied, only written once.
  auto field = [&out](std::string_view name, std::string_view value) {
    out.push_back(',');
    append_json_string(out, name);
    out.push_back(':');
    append_json_string(out, value);
  };
  field("causation_id", causation_id);
  field("correlation_id", correlation_id);
  if (error) {
    out += ",\"error\":";
    append_json(out, error->to_json());
  }
  field("idempotency_key", idempotency_key);
  field("message_id", message_id);
  field("source", source);
  field("timestamp", timestamp);
  field("traceparent", traceparent);
  field("type", type);
  out.push_back('}');
}

Envelope Envelope::parse(std::string_view wire) {
  nlohmann::json j;
  if (auto fast = parse_json_fast(wire, JsonLimits::message())) {
    j = std::move(*fast);
  } else {
    // The reference path, for the exact error (or the rare text only nlohmann accepts). Bounded
    // before the document is built: no recursive code ever sees a hostile nesting.
    if (auto limit = check_json_limits(wire, JsonLimits::message()))
      throw std::invalid_argument("envelope: " + limit->message);
    j = nlohmann::json::parse(wire, nullptr, false);
    if (j.is_discarded())
      throw std::invalid_argument("body is not valid JSON");
  }
  if (!j.is_object())
    throw std::invalid_argument("envelope must be a JSON object");
  Envelope e;
  e.message_id = field(j, "message_id", true);
  e.type = field(j, "type", true);
  e.correlation_id = field(j, "correlation_id", false);
  e.causation_id = field(j, "causation_id", false);
  e.source = field(j, "source", false);
  e.timestamp = field(j, "timestamp", false);
  e.traceparent = field(j, "traceparent", false);
  e.idempotency_key = field(j, "idempotency_key", false);
  if (auto it = j.find("body"); it != j.end() && !it->is_null())
    e.body = std::move(*it);
  if (auto it = j.find("error"); it != j.end() && !it->is_null())
    e.error = Error::from_json(*it);
  return e;
}

}  // namespace wonderland::messaging
