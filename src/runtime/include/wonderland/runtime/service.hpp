// The lifecycle every Wonderland process shares: configuration from the environment, logging to
// stderr and to the logs exchange, one broker connection, graceful shutdown on SIGTERM/SIGINT.
//
//   int main() {
//     return runtime::main_guard("inventory", [] {
//       runtime::Service service("inventory");        // logging + broker connection
//       inventory::Server server(service.connection(), inventory::Config::from_env());
//       service.wait();                               // until SIGTERM or SIGINT
//       return 0;                                     // destructors stop in reverse order
//     });
//   }
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "wonderland/messaging/connection.hpp"

namespace wonderland::runtime {

/// Blocks SIGINT and SIGTERM in the calling thread; threads started afterwards inherit the mask,
/// so that only `wait_for_shutdown` receives them. Call before starting any thread.
void block_shutdown_signals();
/// Waits until SIGINT or SIGTERM arrives (or `request_shutdown` is called); returns the signal.
int wait_for_shutdown();
/// Makes `wait_for_shutdown` return, as a SIGTERM would.
void request_shutdown();

/// Sets the process's umask to 077: every file the process creates from now on (databases, logs,
/// the outbox, key and token files) is readable by its own account only (0600, directories 0700).
/// Called by `Service` and `main_guard`.
void make_created_files_private();

class Service {
 public:
  /// Makes created files private, blocks the shutdown signals, sets up logging for `name`
  /// (WONDERLAND_LOG_LEVEL), connects to the broker (WONDERLAND_AMQP_URL) and forwards logs to it.
  explicit Service(std::string name);
  /// Flushes logs to the broker (bounded) and closes the connection.
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  const std::string& name() const { return name_; }
  messaging::Connection& connection() { return *connection_; }
  /// Blocks until SIGTERM or SIGINT.
  void wait();

 private:
  struct LogAttachment;
  std::string name_;
  std::unique_ptr<messaging::Connection> connection_;
  std::unique_ptr<LogAttachment> log_;
};

/// Runs `body`, turning an escaping exception into a logged fatal error and exit status 1.
int main_guard(const std::string& name, const std::function<int()>& body);

}  // namespace wonderland::runtime
