#include "owner_requests.hpp"

#include <future>
#include <utility>

#include "wonderland/log/log.hpp"

namespace wonderland::mediator {
namespace {

constexpr const char* kCancelType = "mediator.cancel";
constexpr const char* kRetryType = "mediator.retry";
constexpr const char* kSignalType = "mediator.signal";
constexpr const char* kPauseType = "mediator.pause";
constexpr const char* kResumeType = "mediator.resume";
constexpr const char* kRerunType = "mediator.rerun";

const char* verb(const OwnerRequest& request) {
  switch (request.kind) {
    case OwnerRequest::Kind::kCancel:
      return "cancel";
    case OwnerRequest::Kind::kRetry:
      return "retry";
    case OwnerRequest::Kind::kSignal:
      return "signal";
    case OwnerRequest::Kind::kPause:
      return "pause";
    case OwnerRequest::Kind::kResume:
      return "resume";
    case OwnerRequest::Kind::kRerun:
      return "rerun";
  }
  return "request";
}

const char* command_type(const OwnerRequest& request) {
  switch (request.kind) {
    case OwnerRequest::Kind::kCancel:
      return kCancelType;
    case OwnerRequest::Kind::kRetry:
      return kRetryType;
    case OwnerRequest::Kind::kSignal:
      return kSignalType;
    case OwnerRequest::Kind::kPause:
      return kPauseType;
    case OwnerRequest::Kind::kResume:
      return kResumeType;
    case OwnerRequest::Kind::kRerun:
      return kRerunType;
  }
  return kCancelType;
}

std::string optional_text(const nlohmann::json& body, const char* key) {
  auto it = body.find(key);
  return it != body.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

Error try_again(std::string message) {
  return Error::of(codes::kUnavailable, std::move(message));
}

}  // namespace

messaging::QueueName OwnerRequests::control_queue(const std::string& queue_prefix,
                                                  const std::string& instance_id) {
  return messaging::QueueName{queue_prefix + "mediator.control." + instance_id};
}

messaging::QueueName OwnerRequests::control_dead_letters(const std::string& queue_prefix) {
  return messaging::QueueName{queue_prefix + "mediator.control.dead"};
}

OwnerRequests::OwnerRequests(messaging::Connection& connection, workflow::Engine& engine,
                             workflow::PgJournal& journal, const std::string& queue_prefix,
                             std::chrono::milliseconds timeout)
    : rpc_(connection),
      engine_(engine),
      journal_(journal),
      queue_prefix_(queue_prefix),
      timeout_(timeout) {
  messaging::RpcServerOptions options;
  options.queue = control_queue(queue_prefix_, journal_.instance_id());
  options.prefetch = 16;
  options.concurrency = 2;  // the handler waits for the engine's commit
  options.max_length = 1000;
  options.temporary = true;
  // Malformed requests outlive the mediator they were sent to, in one queue for all of them.
  options.dead_letters_in = control_dead_letters(queue_prefix_);
  server_ = std::make_unique<messaging::RpcServer>(
      connection, options, [this](const messaging::Envelope& e) { return serve(e); });
}

OwnerRequests::~OwnerRequests() = default;

void OwnerRequests::submit(OwnerRequest request, StatusCallback done) {
  auto found = journal_.owner_of(request.workflow_id);
  if (!found)
    return done(found.error());
  const std::string& me = journal_.instance_id();
  // Unknown, or this mediator's: the engine answers (not_found, or it acts).
  if (!found->has_value() || (*found)->owner == me)
    return carry_out(engine_, request, std::move(done));
  const workflow::WorkflowOwner& owner = **found;
  if (owner.running) {
    if (!owner.lease_expired)
      return forward(owner.owner, request, std::move(done));
    return after_takeover(request, std::move(done));
  }
  // Settled: a retry or a rerun is written by the owner only; anything else is refused by any
  // engine alike.
  if (request.kind != OwnerRequest::Kind::kRetry && request.kind != OwnerRequest::Kind::kRerun)
    return carry_out(engine_, request, std::move(done));
  if (owner.owner_alive)
    return forward(owner.owner, request, std::move(done));
  auto claimed = journal_.claim_settled(request.workflow_id);
  if (!claimed)
    return done(claimed.error());
  if (!*claimed) {
    return done(try_again("workflow " + request.workflow_id +
                          " changed owner while it was being claimed; try again"));
  }
  log::info("workflow {}: its owner {} is gone; {} here", request.workflow_id, owner.owner,
            verb(request));
  carry_out(engine_, request, std::move(done));
}

void OwnerRequests::after_takeover(const OwnerRequest& request, StatusCallback done) {
  const std::string& id = request.workflow_id;
  // The normal takeover path: claims every workflow whose lease expired, this one included
  // unless another mediator was quicker, and queues their resumption before the request.
  if (auto st = engine_.maintain_ownership(); !st)
    log::warn("workflow {}: taking over expired leases failed: {}", id, st.error().message);
  auto found = journal_.owner_of(id);
  if (!found)
    return done(found.error());
  if (found->has_value() && (*found)->owner == journal_.instance_id()) {
    log::info("workflow {}: its owner stopped renewing its lease; taken over for a {}", id,
              verb(request));
    return carry_out(engine_, request, std::move(done));
  }
  if (found->has_value() && (*found)->running && !(*found)->lease_expired)
    return forward((*found)->owner, request, std::move(done));
  done(try_again("workflow " + id +
                 " is being taken over from a mediator that stopped renewing its lease; try "
                 "again in a few seconds"));
}

void carry_out(workflow::Engine& engine, const OwnerRequest& request,
               std::function<void(const wonderland::Status&)> done) {
  switch (request.kind) {
    case OwnerRequest::Kind::kCancel:
      return engine.cancel(request.workflow_id, request.reason, std::move(done));
    case OwnerRequest::Kind::kRetry:
      return engine.retry(request.workflow_id, std::move(done));
    case OwnerRequest::Kind::kSignal:
      return engine.signal({.workflow_id = request.workflow_id,
                            .name = request.signal,
                            .signal_id = request.signal_id,
                            .payload = request.payload},
                           std::move(done));
    case OwnerRequest::Kind::kPause:
      return engine.pause(request.workflow_id, std::move(done));
    case OwnerRequest::Kind::kResume:
      return engine.resume(request.workflow_id, std::move(done));
    case OwnerRequest::Kind::kRerun:
      return engine.rerun({.workflow_id = request.workflow_id,
                           .step = request.step,
                           .input = request.input,
                           .requested_by = request.requested_by},
                          std::move(done));
  }
}

OwnerRequest::Kind owner_request_kind(BulkAction action) {
  switch (action) {
    case BulkAction::kRetry:
      return OwnerRequest::Kind::kRetry;
    case BulkAction::kCancel:
      return OwnerRequest::Kind::kCancel;
    case BulkAction::kPause:
      return OwnerRequest::Kind::kPause;
    case BulkAction::kResume:
      return OwnerRequest::Kind::kResume;
  }
  return OwnerRequest::Kind::kRetry;
}

void submit_request(OwnerRequests* owners, workflow::Engine& engine, OwnerRequest request,
                    std::function<void(const wonderland::Status&)> done) {
  if (owners != nullptr)
    return owners->submit(std::move(request), std::move(done));
  carry_out(engine, request, std::move(done));
}

void OwnerRequests::forward(const std::string& owner, const OwnerRequest& request,
                            StatusCallback done) {
  nlohmann::json body{{"workflow_id", request.workflow_id}};
  if (request.kind == OwnerRequest::Kind::kCancel)
    body["reason"] = request.reason;
  if (request.kind == OwnerRequest::Kind::kSignal) {
    body["signal"] = request.signal;
    body["signal_id"] = request.signal_id;
    body["payload"] = request.payload;
  }
  if (request.kind == OwnerRequest::Kind::kRerun) {
    body["step"] = request.step;
    body["requested_by"] = request.requested_by;
    if (request.input)
      body["input"] = *request.input;
  }
  messaging::RpcRequest call{control_queue(queue_prefix_, owner),
                             messaging::Envelope::make(command_type(request), body), timeout_,
                             messaging::Delivery::kTransient};
  call.envelope.correlation_id = request.workflow_id;
  log::info("workflow {}: {} forwarded to its owner {}", request.workflow_id, verb(request), owner);
  rpc_.call(std::move(call), [done = std::move(done), owner, id = request.workflow_id,
                              timeout = timeout_](const Result<messaging::Envelope>& reply) {
    if (reply.ok())
      return done(ok_status());
    if (reply.error().code == codes::kDeadlineExceeded) {
      return done(try_again("mediator " + owner + ", which owns workflow " + id +
                            ", did not answer within " + std::to_string(timeout.count()) +
                            " ms; try again (if it stopped, another mediator takes the "
                            "workflow over once its lease expires)"));
    }
    done(reply.error());  // the owner's answer, or the broker's
  });
}

Result<nlohmann::json> OwnerRequests::serve(const messaging::Envelope& envelope) {
  OwnerRequest request;
  if (envelope.type == kCancelType) {
    request.kind = OwnerRequest::Kind::kCancel;
  } else if (envelope.type == kRetryType) {
    request.kind = OwnerRequest::Kind::kRetry;
  } else if (envelope.type == kSignalType) {
    request.kind = OwnerRequest::Kind::kSignal;
  } else if (envelope.type == kPauseType) {
    request.kind = OwnerRequest::Kind::kPause;
  } else if (envelope.type == kResumeType) {
    request.kind = OwnerRequest::Kind::kResume;
  } else if (envelope.type == kRerunType) {
    request.kind = OwnerRequest::Kind::kRerun;
  } else {
    return Error::of(codes::kInvalidArgument, "unknown command type '" + envelope.type + "'");
  }
  const auto& body = envelope.body;
  auto id = body.find("workflow_id");
  if (!body.is_object() || id == body.end() || !id->is_string()) {
    return Error::of(codes::kInvalidArgument, "workflow_id is required");
  }
  request.workflow_id = id->get<std::string>();
  request.reason = optional_text(body, "reason");
  if (request.kind == OwnerRequest::Kind::kSignal) {
    request.signal = optional_text(body, "signal");
    request.signal_id = optional_text(body, "signal_id");
    if (auto payload = body.find("payload"); payload != body.end())
      request.payload = *payload;  // the engine refuses one that is not an object
    if (request.signal.empty())
      return Error::of(codes::kInvalidArgument, "signal is required");
  }
  if (request.kind == OwnerRequest::Kind::kRerun) {
    request.step = optional_text(body, "step");
    request.requested_by = optional_text(body, "requested_by");
    if (auto input = body.find("input"); input != body.end())
      request.input = *input;  // the engine refuses one that is not an object
  }
  // Never forwarded again: a workflow that moved on is the first mediator's to sort out.
  auto found = journal_.owner_of(request.workflow_id);
  if (!found)
    return found.error();
  if (found->has_value() && (*found)->owner != journal_.instance_id()) {
    return try_again("mediator " + journal_.instance_id() + " no longer owns workflow " +
                     request.workflow_id + " (it moved to " + (*found)->owner + "); try again");
  }
  // This handler's thread may wait: the engine answers on its own thread.
  std::promise<Status> answered;
  carry_out(engine_, request, [&answered](const Status& st) { answered.set_value(st); });
  Status st = answered.get_future().get();
  if (!st)
    return st.error();
  return nlohmann::json{{"accepted", true}};
}

}  // namespace wonderland::mediator
