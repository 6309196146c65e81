#include "wonderland/messaging/consumer.hpp"

#include "detail/engine.hpp"

namespace wonderland::messaging {

ConsumerHandle::ConsumerHandle(std::shared_ptr<detail::Engine> engine, std::uint64_t id)
    : engine_(engine), id_(id) {}

ConsumerHandle::ConsumerHandle(ConsumerHandle&& o) noexcept
    : engine_(std::move(o.engine_)), id_(std::exchange(o.id_, 0)) {}

ConsumerHandle& ConsumerHandle::operator=(ConsumerHandle&& o) noexcept {
  if (this != &o) {
    cancel();
    engine_ = std::move(o.engine_);
    id_ = std::exchange(o.id_, 0);
  }
  return *this;
}

ConsumerHandle::~ConsumerHandle() { cancel(); }

void ConsumerHandle::cancel() {
  if (id_ == 0) return;
  if (auto engine = engine_.lock()) engine->remove_consumer(id_);
  id_ = 0;
}

}  // namespace wonderland::messaging
