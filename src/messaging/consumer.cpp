#include "wonderland/messaging/consumer.hpp"

#include "detail/broker_session.hpp"

namespace wonderland::messaging {

ConsumerHandle::ConsumerHandle(const std::shared_ptr<detail::BrokerSession>& session,
                               std::uint64_t id)
    : session_(session), id_(id) {}

ConsumerHandle::ConsumerHandle(ConsumerHandle&& o) noexcept
    : session_(std::move(o.session_)), id_(std::exchange(o.id_, 0)) {}

ConsumerHandle& ConsumerHandle::operator=(ConsumerHandle&& o) noexcept {
  if (this != &o) {
    cancel();
    session_ = std::move(o.session_);
    id_ = std::exchange(o.id_, 0);
  }
  return *this;
}

ConsumerHandle::~ConsumerHandle() {
  cancel();
}

void ConsumerHandle::cancel() {
  if (id_ == 0)
    return;
  if (auto session = session_.lock())
    session->remove_consumer(id_);
  id_ = 0;
}

}  // namespace wonderland::messaging
