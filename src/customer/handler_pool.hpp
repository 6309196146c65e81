// The customer service's workers: a fixed set of CommandHandlers, each with its own PostgreSQL
// connection, lent to one request at a time.
//
//   customer::HandlerPool pool(4, url, schema, options, publish);
//   Result<json> reply = pool.handle(envelope);   // from any of the RPC server's threads
//
// A CommandHandler is not thread-safe; the pool is. With as many RPC consumer threads as
// handlers, a request never waits for a handler.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "handler.hpp"

namespace wonderland::customer {

class HandlerPool {
 public:
  /// Makes `size` handlers (none connects yet).
  HandlerPool(unsigned size, const std::string& pg_url, const std::string& schema,
              const StoreOptions& options, const EventPublisher& publish);
  HandlerPool(const HandlerPool&) = delete;
  HandlerPool& operator=(const HandlerPool&) = delete;

  /// Handles `request` on an idle handler (CommandHandler::handle), waiting for one when every
  /// handler is busy.
  Result<nlohmann::json> handle(const messaging::Envelope& request);

 private:
  CommandHandler& acquire();
  void release(CommandHandler& handler);

  std::vector<std::unique_ptr<CommandHandler>> handlers_;
  std::mutex mu_;
  std::condition_variable idle_cv_;
  std::vector<CommandHandler*> idle_;
};

}  // namespace wonderland::customer
