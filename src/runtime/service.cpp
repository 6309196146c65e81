#include "wonderland/runtime/service.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "wonderland/log/amqp_publisher.hpp"
#include "wonderland/log/log.hpp"

namespace wonderland::runtime {

void block_shutdown_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int wait_for_shutdown() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  return sig;
}

void request_shutdown() {
  ::kill(::getpid(), SIGTERM);
}

struct Service::LogAttachment {
  log::BrokerAttachment attachment;
};

void make_created_files_private() {
  ::umask(S_IRWXG | S_IRWXO);
}

Service::Service(std::string name) : name_(std::move(name)) {
  make_created_files_private();
  block_shutdown_signals();
  log::Options options;
  options.service = name_;
  options.broker = log::ForwarderOptions::from_env();  // records batched per message
  log::init(options);
  connection_ =
      std::make_unique<messaging::Connection>(messaging::ConnectionOptions::from_env(name_));
  log::AmqpLogPublisher::declare(*connection_);
  log_ = std::make_unique<LogAttachment>(
      LogAttachment{log::attach_broker(std::make_shared<log::AmqpLogPublisher>(*connection_))});
  log::info("{} started", name_);
}

Service::~Service() {
  log::info("{} stopping", name_);
  log_.reset();
  connection_.reset();
}

void Service::wait() {
  int sig = wait_for_shutdown();
  log::info("{} received {}, shutting down", name_, sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

int main_guard(const std::string& name, const std::function<int()>& body) {
  make_created_files_private();
  try {
    return body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: fatal: %s\n", name.c_str(), e.what());
    return 1;
  }
}

}  // namespace wonderland::runtime
