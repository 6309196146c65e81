#include "wonderland/messaging/idempotency.hpp"

namespace wonderland::messaging {

Result<nlohmann::json> deduplicated(IdempotencyStore& store, const std::string& key,
                                    const std::function<Result<nlohmann::json>()>& effect) {
  if (key.empty()) {
    return Error::of(codes::kInvalidArgument, "command has no idempotency key");
  }
  return store.run_once(key, effect);
}

}  // namespace wonderland::messaging
