// wonderland-mediator: the orchestrator and the public HTTP API.
#include "wonderland/mediator/mediator.hpp"
#include "wonderland/runtime/service.hpp"

int main() {
  namespace runtime = wonderland::runtime;
  namespace mediator = wonderland::mediator;
  return runtime::main_guard("mediator", [] {
    runtime::Service service("mediator");
    mediator::Mediator mediator(service.connection(), mediator::Config::from_env());
    service.wait();
    return 0;
  });
}
