// wonderland-notification: emails customers about their account and orders, and lists what was
// sent to them (docs/commands.md, section "notification").
#include "wonderland/notification/server.hpp"
#include "wonderland/runtime/service.hpp"

int main() {
  namespace notification = wonderland::notification;
  namespace runtime = wonderland::runtime;
  return runtime::main_guard("notification", [] {
    runtime::Service service("notification");
    notification::Server server(service.connection(), notification::Config::from_env());
    service.wait();
    return 0;
  });
}
