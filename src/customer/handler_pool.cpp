#include "handler_pool.hpp"

namespace wonderland::customer {

HandlerPool::HandlerPool(unsigned size, const std::string& pg_url, const std::string& schema,
                         const StoreOptions& options, const EventPublisher& publish) {
  for (unsigned i = 0; i < size; ++i) {
    handlers_.push_back(std::make_unique<CommandHandler>(pg_url, schema, options, publish));
    idle_.push_back(handlers_.back().get());
  }
}

Result<nlohmann::json> HandlerPool::handle(const messaging::Envelope& request) {
  struct Lease {
    HandlerPool& pool;
    CommandHandler& handler;
    ~Lease() { pool.release(handler); }
  } lease{*this, acquire()};
  return lease.handler.handle(request);
}

CommandHandler& HandlerPool::acquire() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [&] { return !idle_.empty(); });
  CommandHandler* handler = idle_.back();
  idle_.pop_back();
  return *handler;
}

void HandlerPool::release(CommandHandler& handler) {
  {
    std::lock_guard lock(mu_);
    idle_.push_back(&handler);
  }
  idle_cv_.notify_one();
}

}  // namespace wonderland::customer
