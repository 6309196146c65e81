#include "wonderland/messaging/topology.hpp"

namespace wonderland::messaging {

QueueName dead_letter_queue_for(const QueueName& queue) {
  return QueueName{queue.str() + ".dead"};
}

}  // namespace wonderland::messaging
