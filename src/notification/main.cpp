// wonderland-notification: emails customers about their account and orders, and lists what was
// sent to them (docs/commands.md, section "notification").
#include "wonderland/notification/server.hpp"
#include "wonderland/runtime/service.hpp"

int main() {
  using namespace wonderland;
  return runtime::main_guard("notification", [] {
    runtime::Service service("notification");
    notification::Server server(service.connection(), notification::Config::from_env());
    service.wait();
    return 0;
  });
}
