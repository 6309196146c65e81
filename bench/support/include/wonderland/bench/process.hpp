// What the benchmarks that drive real processes share: a child process started with extra
// environment and its output in a log file, and a blocking HTTP/1.1 client to 127.0.0.1.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>

namespace wonderland::bench {

/// CPU seconds (user + system) this process has used so far.
double own_cpu_seconds();

/// What /proc/<pid>/stat says of a process.
struct ProcStat {
  std::string comm;     ///< its command name
  int ppid = 0;         ///< its parent
  long long ticks = 0;  ///< user + system CPU, in clock ticks (sysconf(_SC_CLK_TCK) per second)
};
/// The stat of the process whose /proc folder is `proc_dir` (e.g. "/proc/42"); nullopt when it
/// has gone or the file cannot be read.
std::optional<ProcStat> read_proc_stat(const std::filesystem::path& proc_dir);
/// CPU seconds (user + system) process `pid` has used so far; throws std::runtime_error when
/// /proc does not show it.
double process_cpu_seconds(pid_t pid);

class ChildProcess {
 public:
  /// Starts `program` with this process's environment plus `env` (which wins); its standard
  /// output and error go to `log`, appended to or (with `truncate`) written afresh.
  ChildProcess(const std::string& program, const std::map<std::string, std::string>& env,
               const std::filesystem::path& log, bool truncate = false);
  ~ChildProcess() { stop(); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  /// The log's text so far.
  std::string log() const;
  /// Whether it has ended (reaped here the first time it is seen).
  bool exited();
  /// How it ended ("exit status 1", "killed by signal 9"), once exited() saw it.
  const std::string& how() const { return how_; }
  /// Waits until the log shows `needle`; throws when the process exits or time runs out.
  void wait_for_log(const std::string& needle, std::chrono::seconds timeout);
  /// SIGTERM, then SIGKILL once `grace` has passed.
  void stop(std::chrono::seconds grace = std::chrono::seconds(10));

 private:
  pid_t pid_ = -1;
  std::filesystem::path log_;
  std::string how_;
};

/// A blocking HTTP/1.1 client on one kept-alive connection to 127.0.0.1; a request that fails
/// on a connection the server closed is sent once more on a new one.
class LocalHttpClient {
 public:
  explicit LocalHttpClient(int port) : port_(port) {}

  /// Status and body; `token` goes in `Authorization: Bearer`, a `body` as application/json.
  std::pair<int, std::string> request(boost::beast::http::verb method, const std::string& target,
                                      const std::string& token, const std::string& body = {});

 private:
  int port_;
  boost::asio::io_context ioc_;
  std::optional<boost::beast::tcp_stream> stream_;
};

}  // namespace wonderland::bench
