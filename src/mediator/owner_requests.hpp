// Cancel, retry, signals, pause and resume with several mediators on one PostgreSQL journal. Only a
// workflow's owner may carry them out (its engine drives the workflow, and the journal writes only
// the owner's records), so a mediator that gets the request for a workflow it does not own forwards
// it over RabbitMQ to the owner and relays the answer:
//
//  - Every mediator serves the control queue `<prefix>mediator.control.<instance id>` (temporary:
//    it goes with the mediator) with the commands `mediator.cancel` {workflow_id, reason},
//    `mediator.retry` {workflow_id}, `mediator.signal` {workflow_id, signal, signal_id,
//    payload}, `mediator.pause` and `mediator.resume` {workflow_id}, `mediator.rerun`
//    {workflow_id, step, input?, requested_by}; the reply is {accepted: true} or the engine's
//    error value.
//  - The owner is read from the journal. A running workflow whose lease is live is forwarded to
//    its owner; one whose lease expired (its owner died) is claimed here by the normal takeover
//    (Engine::maintain_ownership) and handled here, or forwarded to whoever claimed it first; if
//    nobody holds it yet the answer is a retryable `unavailable`. A settled workflow is retried
//    (or rerun) by its owner when that one is alive, else claimed here
//    (PgJournal::claim_settled); any other
//    request for it is refused here, as any engine refuses it.
//  - A mediator never forwards a request it got forwarded: when it does not own the workflow
//    (any more) it answers a retryable `unavailable`, which the first mediator relays.
//  - The owner not answering within WONDERLAND_RPC_TIMEOUT_MS is a retryable `unavailable`.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "wonderland/mediator/bulk_actions.hpp"
#include "wonderland/messaging/connection.hpp"
#include "wonderland/messaging/rpc.hpp"
#include "wonderland/workflow/engine.hpp"
#include "wonderland/workflow_pg/pg_journal.hpp"

namespace wonderland::mediator {

/// What an operator (or, for a signal, a service) asks of a workflow.
struct OwnerRequest {
  enum class Kind { kCancel, kRetry, kSignal, kPause, kResume, kRerun };
  Kind kind = Kind::kCancel;
  std::string workflow_id;
  std::string reason;  ///< for a cancel
  // for a signal
  std::string signal;
  std::string signal_id;
  nlohmann::json payload = nlohmann::json::object();
  // for a rerun
  std::string step;
  std::optional<nlohmann::json> input;
  std::string requested_by;
};

/// Hands `request` to `engine` (this mediator's); `done` runs once, on any thread.
void carry_out(workflow::Engine& engine, const OwnerRequest& request,
               std::function<void(const wonderland::Status&)> done);

class OwnerRequests;

/// The request a bulk action makes of each workflow.
OwnerRequest::Kind owner_request_kind(BulkAction action);

/// Hands `request` to `owners` (the workflow's owner acts) when several mediators share the
/// journal, else (`owners` null) to `engine`; `done` runs once, on any thread.
void submit_request(OwnerRequests* owners, workflow::Engine& engine, OwnerRequest request,
                    std::function<void(const wonderland::Status&)> done);

class OwnerRequests {
 public:
  using StatusCallback = std::function<void(const wonderland::Status&)>;

  /// Serves this mediator's control queue until destroyed.
  OwnerRequests(messaging::Connection& connection, workflow::Engine& engine,
                workflow::PgJournal& journal, const std::string& queue_prefix,
                std::chrono::milliseconds timeout);
  ~OwnerRequests();
  OwnerRequests(const OwnerRequests&) = delete;
  OwnerRequests& operator=(const OwnerRequests&) = delete;

  /// The control queue of mediator `instance_id`.
  static messaging::QueueName control_queue(const std::string& queue_prefix,
                                            const std::string& instance_id);
  /// Where every mediator's control queue keeps its malformed requests (durable, shared).
  static messaging::QueueName control_dead_letters(const std::string& queue_prefix);

  /// Carries out `request` here or at the workflow's owner; `done` runs once, on any thread.
  /// Reads the journal on the calling thread, which must not be the engine's.
  void submit(OwnerRequest request, StatusCallback done);

 private:
  /// Sends the request to mediator `owner` and relays its answer.
  void forward(const std::string& owner, const OwnerRequest& request, StatusCallback done);
  /// A running workflow whose owner's lease expired: takes it over, then acts or forwards.
  void after_takeover(const OwnerRequest& request, StatusCallback done);
  /// A forwarded request (the control queue's handler).
  Result<nlohmann::json> serve(const messaging::Envelope& request);

  messaging::RpcClient rpc_;
  workflow::Engine& engine_;
  workflow::PgJournal& journal_;
  std::string queue_prefix_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<messaging::RpcServer> server_;
};

}  // namespace wonderland::mediator
