// Child processes for tests that run real Wonderland binaries: start with extra environment,
// stop with SIGTERM (graceful) or SIGKILL (crash), restart, read their log.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace wonderland::testing {

/// The build folder's binary `name` (e.g. "wonderland-inventory").
std::string binary_path(const std::string& name);
/// The repository's root folder.
std::string source_dir();

class ChildProcess {
 public:
  /// Does not start yet. `log_path` receives stdout and stderr (appended across restarts);
  /// `args` follow the program's name on its command line.
  ChildProcess(std::string program, std::map<std::string, std::string> env, std::string log_path,
               std::vector<std::string> args = {});
  ~ChildProcess();  ///< SIGKILL if still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  void start();
  /// SIGTERM, then waits up to `timeout` (SIGKILL after it); returns the exit status (-signal
  /// when killed by one).
  int stop(std::chrono::milliseconds timeout = std::chrono::seconds(15));
  /// SIGKILL and reap: a crash at an arbitrary point.
  void kill();
  bool running();
  pid_t pid() const { return pid_; }
  /// The exit status of the last run once it was reaped (as stop() returns it); 0 before.
  int exit_status() const { return exit_status_; }
  /// The last `lines` lines of the log, for failure messages.
  std::string log_tail(std::size_t lines = 40) const;
  std::map<std::string, std::string>& env() { return env_; }

 private:
  std::string program_;
  std::vector<std::string> args_;
  std::map<std::string, std::string> env_;
  std::string log_path_;
  pid_t pid_ = -1;
  int exit_status_ = 0;
};

/// Waits until something accepts TCP connections on 127.0.0.1:`port`.
bool wait_for_port(int port, std::chrono::milliseconds timeout);

}  // namespace wonderland::testing
