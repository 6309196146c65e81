// What the logging service speaks on the broker.
//
// In
//   * `wonderland.logs` (direct, durable), routing key = severity: envelopes of type
//     `log.record` whose body is a record (`{timestamp, service, severity, correlation_id,
//     message, fields}`), or of type `log.records` whose body is `{records: [record, ...]}`
//     (several records of that severity from one process), consumed from the durable queue
//     `logging.records`. A batch whose body is not of that form is dead-lettered.
//   * `wonderland.workflow` (topic, durable), routing keys `workflow.<event>`: the mediator's
//     workflow events, consumed from the durable queue `logging.workflow` (binding `workflow.#`)
//     and stored as records (see log_store::record_from_workflow_event).
// Queries
//   * RPC on the queue `logging.query`, request type `logs.query`, body = log_store::Query JSON;
//     reply body = log_store::QueryPage JSON `{records, next_cursor?}`; bad input gives an Error
//     `invalid_argument` naming the parameter.
// Out
//   * `wonderland.logs.live` (topic, NOT durable): every stored record, right after it was
//     written, as an envelope of type `log.record` (body = the record, source = its service,
//     correlation_id = its correlation id), transient, routing key `<severity>.<service>`.
//     Subscribers bind an exclusive auto-delete queue (see live.hpp) and filter with
//     log_store::Filter. Best effort: a subscriber that is not bound at that moment misses it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "wonderland/log_store/record.hpp"
#include "wonderland/messaging/connection.hpp"
#include "wonderland/messaging/envelope.hpp"
#include "wonderland/messaging/names.hpp"

namespace wonderland::log_service {

/// Envelope type of a record on `wonderland.logs` and on the live exchange.
inline constexpr const char* kRecordType = "log.record";
/// Envelope type of several records of one severity on `wonderland.logs`: body
/// `{records: [...]}`, each element a record body as in a `log.record`.
inline constexpr const char* kRecordBatchType = "log.records";
/// Envelope type of a batch of workflow events from the mediator: body `{events: [...]}`, each
/// `{workflow_id, definition, version, seq, type, step, attempt, at, status?, data}`.
inline constexpr const char* kWorkflowBatchType = "workflow.events";
/// Request type of a query.
inline constexpr const char* kQueryType = "logs.query";
/// The live exchange (topic, transient).
inline const messaging::ExchangeName kLiveExchange{"wonderland.logs.live"};
/// The query queue.
inline const messaging::QueueName kQueryQueue{"logging.query"};

/// A record made from one element of a batch, with the id it is deduplicated under.
struct BatchedRecord {
  std::string id;
  log_store::Record record;
};

/// A `log.record` envelope received with `routing_key` as a record. Lenient (never throws):
/// missing or malformed body members fall back to the envelope (timestamp, source,
/// correlation id), to the routing key (severity) and to the time of receipt.
log_store::Record record_from_log_envelope(const messaging::Envelope& envelope,
                                           std::string_view routing_key);
/// Element `index` of a `log.records` batch as the record it would make sent alone as a
/// `log.record` (lenient in the same way; the correlation id comes only from the element), with
/// its id: the batch's message id + ":" + index.
BatchedRecord batched_log_record(const messaging::Envelope& batch, std::string_view routing_key,
                                 const nlohmann::json& element, std::size_t index);
/// A workflow event as a record (service = source, or "mediator" when empty).
log_store::Record record_from_workflow_envelope(const messaging::Envelope& envelope);

/// Event `index` of a `workflow.events` batch as the record it would make sent alone (type
/// `workflow.<event type>`, correlation id = its workflow, time = its `at`), with its id: the
/// batch's message id + index. Built from the event in place: only its fields are copied.
BatchedRecord batched_workflow_event(const messaging::Envelope& batch, const nlohmann::json& event,
                                     std::size_t index);

/// `<severity>.<service>`, the routing key of a record on the live exchange.
std::string live_routing_key(const log_store::Record& record);
/// The envelope a record is published as on the live exchange.
messaging::Envelope live_envelope(const log_store::Record& record);
/// The same envelope's wire text, built directly from the record and its fields column
/// (compact JSON) — what the service publishes, without building JSON documents per record.
std::string live_wire(const log_store::Record& record, std::string_view fields_json,
                      const std::string& message_id);
/// The record carried by a live envelope; nullopt when the envelope is not one.
std::optional<log_store::Record> record_from_live(const messaging::Envelope& envelope);

/// Declares the live exchange (topic, not durable). Idempotent; throws ErrorException when the
/// broker refuses (e.g. the exchange exists with other properties).
void declare_live_exchange(messaging::Connection& connection,
                           const messaging::ExchangeName& exchange = kLiveExchange);

}  // namespace wonderland::log_service
