// wonderland-payment: validates payment methods, charges and refunds orders (docs/commands.md).
#include "wonderland/payment/server.hpp"
#include "wonderland/runtime/service.hpp"

int main() {
  namespace runtime = wonderland::runtime;
  namespace payment = wonderland::payment;
  return runtime::main_guard("payment", [] {
    runtime::Service service("payment");
    payment::Server server(service.connection(), payment::Config::from_env());
    service.wait();
    return 0;
  });
}
