#include "context.hpp"

#include <sodium.h>

#include "wonderland/customer/protocol.hpp"

namespace wonderland::mediator {

std::optional<Json> AuthCache::find(const std::string& token) {
  if (ttl_.count() == 0)
    return std::nullopt;
  std::lock_guard lock(mu_);
  auto it = entries_.find(token);
  if (it == entries_.end())
    return std::nullopt;
  if (std::chrono::steady_clock::now() >= it->second.expires) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second.profile;
}

void AuthCache::put(const std::string& token, Json profile) {
  if (ttl_.count() == 0)
    return;
  std::lock_guard lock(mu_);
  if (entries_.size() > 100000)
    entries_.clear();  // bounded; a miss only costs one RPC
  entries_[token] = Entry{std::move(profile), std::chrono::steady_clock::now() + ttl_};
}

void AuthCache::evict(const std::string& token) {
  std::lock_guard lock(mu_);
  entries_.erase(token);
}

void Context::call(const std::string& service, const std::string& type, Json body,
                   JsonCallback done, const std::string& correlation_id,
                   const std::string& idempotency_key) {
  call(transport.queue_for(service), type, std::move(body), std::move(done), correlation_id,
       idempotency_key);
}

void Context::call(const messaging::QueueName& queue, const std::string& type, Json body,
                   JsonCallback done, const std::string& correlation_id,
                   const std::string& idempotency_key) {
  auto envelope = messaging::Envelope::make(type, std::move(body), connection.options().service);
  envelope.correlation_id = correlation_id;
  envelope.idempotency_key = idempotency_key;
  messaging::RpcRequest request{queue, std::move(envelope), config.rpc_timeout,
                                messaging::Delivery::kTransient};
  rpc.call(std::move(request), [done = std::move(done)](Result<messaging::Envelope> reply) {
    if (reply.ok()) {
      done(std::move(reply.value().body));
    } else {
      done(reply.error());
    }
  });
}

void Context::authenticate(const http::Request& request, JsonCallback done) {
  auto token = request.bearer_token();
  if (!token || token->empty()) {
    done(Error::of(codes::kUnauthenticated, "sign in first: send 'Authorization: Bearer <token>'"));
    return;
  }
  std::string t(*token);
  if (auto cached = auth_cache.find(t)) {
    done(std::move(*cached));
    return;
  }
  call("customer", customer::commands::kAuthenticate, Json{{"token", t}},
       [this, t, done = std::move(done)](Result<Json> profile) {
         if (profile.ok())
           auth_cache.put(t, profile.value());
         done(std::move(profile));
       });
}

std::optional<Error> Context::check_admin(const http::Request& request) const {
  auto token = request.bearer_token();
  if (!token || token->empty()) {
    return Error::of(codes::kUnauthenticated,
                     "operator routes need 'Authorization: Bearer <admin token>'");
  }
  const std::string& expected = config.admin_token;
  if (token->size() != expected.size() ||
      sodium_memcmp(token->data(), expected.data(), expected.size()) != 0) {
    return Error::of(codes::kPermissionDenied, "this token may not use operator routes");
  }
  return std::nullopt;
}

}  // namespace wonderland::mediator
