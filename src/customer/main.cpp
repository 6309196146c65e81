// wonderland-customer: accounts, sessions, baskets and order history (docs/commands.md).
#include <utility>

#include "wonderland/customer/server.hpp"
#include "wonderland/runtime/service.hpp"

int main() {
  namespace runtime = wonderland::runtime;
  namespace customer = wonderland::customer;
  return runtime::main_guard("customer", [] {
    customer::Config config =
        customer::Config::from_env();  // a bad setting fails before connecting
    runtime::Service service("customer");
    customer::Server server(service.connection(), std::move(config));
    service.wait();
    return 0;
  });
}
