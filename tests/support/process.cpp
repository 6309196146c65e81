#include "wonderland/testing/process.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <deque>
#include <fstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace wonderland::testing {

std::string binary_path(const std::string& name) {
  // A service's binary is built in its component's folder, which is named after the service,
  // except for the logging service (component log_service).
  std::string component = name.rfind("wonderland-", 0) == 0 ? name.substr(11) : name;
  if (component == "logging")
    component = "log_service";
  return std::string(WONDERLAND_BINARY_DIR) + "/src/" + component + "/" + name;
}

std::string source_dir() {
  return WONDERLAND_SOURCE_DIR;
}

ChildProcess::ChildProcess(std::string program, std::map<std::string, std::string> env,
                           std::string log_path, std::vector<std::string> args)
    : program_(std::move(program)),
      args_(std::move(args)),
      env_(std::move(env)),
      log_path_(std::move(log_path)) {}

ChildProcess::~ChildProcess() {
  if (pid_ > 0)
    kill();
}

void ChildProcess::start() {
  if (pid_ > 0 && running())
    throw std::logic_error(program_ + " is already running");
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    auto eq = entry.find('=');
    if (eq != std::string::npos && env_.count(entry.substr(0, eq)) != 0)
      continue;
    env_strings.push_back(entry);
  }
  for (const auto& [k, v] : env_)
    env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings)
    envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> arg_strings{program_};
  arg_strings.insert(arg_strings.end(), args_.begin(), args_.end());
  std::vector<char*> argv;
  for (auto& a : arg_strings)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0)
    throw std::runtime_error("cannot open " + log_path_);
  pid_t pid = ::fork();
  if (pid < 0)
    throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(log_fd);
  pid_ = pid;
}

int ChildProcess::stop(std::chrono::milliseconds timeout) {
  if (pid_ <= 0)
    return 0;
  ::kill(pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
      return exit_status_;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill();
  return -SIGKILL;
}

void ChildProcess::kill() {
  if (pid_ <= 0)
    return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  pid_ = -1;
}

bool ChildProcess::running() {
  if (pid_ <= 0)
    return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    pid_ = -1;
    return false;
  }
  return true;
}

std::string ChildProcess::log_tail(std::size_t lines) const {
  std::ifstream in(log_path_);
  std::deque<std::string> last;
  std::string line;
  while (std::getline(in, line)) {
    last.push_back(line);
    if (last.size() > lines)
      last.pop_front();
  }
  std::string out = "---- " + log_path_ + " ----\n";
  for (const auto& l : last)
    out += l + "\n";
  return out;
}

bool wait_for_port(int port, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (ok)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

}  // namespace wonderland::testing
