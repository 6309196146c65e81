#include "wonderland/bench/process.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/ip/address.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <csignal>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

extern char** environ;

namespace wonderland::bench {

double own_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto sec = [](timeval t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

std::optional<ProcStat> read_proc_stat(const std::filesystem::path& proc_dir) {
  std::ifstream in(proc_dir / "stat");
  std::string line;
  if (!std::getline(in, line))
    return std::nullopt;
  // pid (comm) state ppid ... ; comm may hold spaces, so split at the last ')'.
  auto open = line.find('('), close = line.rfind(')');
  if (open == std::string::npos || close == std::string::npos)
    return std::nullopt;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  ProcStat p;
  p.comm = line.substr(open + 1, close - open - 1);
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 4)
      p.ppid = std::stoi(field);
    if (i == 14 || i == 15)
      p.ticks += std::stoll(field);
  }
  return p;
}

double process_cpu_seconds(pid_t pid) {
  auto stat = read_proc_stat("/proc/" + std::to_string(pid));
  if (!stat)
    throw std::runtime_error("cannot read /proc/" + std::to_string(pid) + "/stat");
  return static_cast<double>(stat->ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}
namespace {

/// `KEY=value` strings of this process's environment with `env` put over it.
std::vector<std::string> environment_with(const std::map<std::string, std::string>& env) {
  std::vector<std::string> strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    if (env.count(entry.substr(0, entry.find('='))) == 0)
      strings.push_back(entry);
  }
  for (const auto& [k, v] : env)
    strings.push_back(k + "=" + v);
  return strings;
}

}  // namespace

ChildProcess::ChildProcess(const std::string& program,
                           const std::map<std::string, std::string>& env,
                           const std::filesystem::path& log, bool truncate)
    : log_(log) {
  std::vector<std::string> strings = environment_with(env);
  std::vector<char*> envp;
  for (auto& s : strings)
    envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string path = program;
  char* argv[] = {path.data(), nullptr};
  const int fd =
      ::open(log.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (truncate ? O_TRUNC : O_APPEND), 0644);
  if (fd < 0)
    throw std::runtime_error("cannot open " + log.string());
  pid_ = ::fork();
  if (pid_ < 0)
    throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execve(argv[0], argv, envp.data());
    ::_exit(127);
  }
  ::close(fd);
}

std::string ChildProcess::log() const {
  std::ifstream in(log_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool ChildProcess::exited() {
  int status = 0;
  if (pid_ > 0 && ::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    how_ = WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                               : "exit status " + std::to_string(WEXITSTATUS(status));
  }
  return pid_ <= 0;
}

void ChildProcess::wait_for_log(const std::string& needle, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (log().find(needle) != std::string::npos)
      return;
    if (exited())
      throw std::runtime_error(log_.string() + ": the process exited:\n" + log());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error(log_.string() + ": no '" + needle + "' in time:\n" + log());
}

void ChildProcess::stop(std::chrono::seconds grace) {
  if (pid_ <= 0)
    return;
  ::kill(pid_, SIGTERM);
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::pair<int, std::string> LocalHttpClient::request(boost::beast::http::verb method,
                                                     const std::string& target,
                                                     const std::string& token,
                                                     const std::string& body) {
  namespace http = boost::beast::http;
  for (int tries = 0;; ++tries) {
    try {
      if (!stream_) {
        stream_.emplace(ioc_);
        stream_->connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"),
                                                        static_cast<unsigned short>(port_)));
      }
      http::request<http::string_body> req{method, target, 11};
      req.set(http::field::host, "127.0.0.1");
      if (!token.empty())
        req.set(http::field::authorization, "Bearer " + token);
      if (!body.empty()) {
        req.set(http::field::content_type, "application/json");
        req.body() = body;
      }
      req.prepare_payload();
      http::write(*stream_, req);
      boost::beast::flat_buffer buffer;
      http::response<http::string_body> res;
      http::read(*stream_, buffer, res);
      if (!res.keep_alive())
        stream_.reset();
      return {static_cast<int>(res.result_int()), res.body()};
    } catch (const std::exception&) {
      stream_.reset();
      if (tries >= 1)
        throw;
    }
  }
}

}  // namespace wonderland::bench
