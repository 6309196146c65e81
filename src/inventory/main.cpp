// wonderland-inventory: the book catalogue, stock and reservations (docs/commands.md).
#include "wonderland/inventory/server.hpp"
#include "wonderland/runtime/service.hpp"

int main() {
  namespace runtime = wonderland::runtime;
  namespace inventory = wonderland::inventory;
  return runtime::main_guard("inventory", [] {
    runtime::Service service("inventory");
    inventory::Server server(service.connection(), inventory::Config::from_env());
    service.wait();
    return 0;
  });
}
