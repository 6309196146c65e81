#include "wonderland/messaging/envelope.hpp"

#include <stdexcept>

#include "wonderland/common/ids.hpp"
#include "wonderland/common/json_limits.hpp"
#include "wonderland/common/time.hpp"

namespace wonderland::messaging {
namespace {

std::string field(const nlohmann::json& j, const char* name, bool required) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) {
    if (required)
      throw std::invalid_argument(std::string("envelope field '") + name + "' is missing");
    return {};
  }
  if (!it->is_string()) {
    throw std::invalid_argument(std::string("envelope field '") + name + "' must be a string");
  }
  return it->get<std::string>();
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
  nlohmann::json j = {{"message_id", message_id},
                      {"type", type},
                      {"correlation_id", correlation_id},
                      {"causation_id", causation_id},
                      {"source", source},
                      {"timestamp", timestamp},
                      {"traceparent", traceparent},
                      {"idempotency_key", idempotency_key},
                      {"body", body}};
  if (error)
    j["error"] = error->to_json();
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Envelope Envelope::parse(std::string_view wire) {
  // Bounded before the document is built: no recursive code ever sees a hostile nesting.
  if (auto limit = check_json_limits(wire, JsonLimits::message())) {
    throw std::invalid_argument("envelope: " + limit->message);
  }
  nlohmann::json j = nlohmann::json::parse(wire, nullptr, false);
  if (j.is_discarded())
    throw std::invalid_argument("body is not valid JSON");
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
