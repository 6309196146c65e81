// Order ids: a name-based UUID of the customer and their Idempotency-Key, so that the same
// checkout always names the same order.
#include <string>

#include "wonderland/common/ids.hpp"
#include "wonderland/mediator/orders.hpp"

namespace wonderland::mediator {

std::string order_id_for(const std::string& customer_id, const std::string& idempotency_key) {
  // The same customer and key always name the same order, which makes POST /api/orders
  // idempotent across retries and mediators.
  return name_based_uuid(customer_id + "\n" + idempotency_key);
}

}  // namespace wonderland::mediator
