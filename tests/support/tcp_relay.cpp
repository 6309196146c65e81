// The relay's one thread polls the listener, both sockets of every connection and a wake-up pipe.
#include "wonderland/testing/tcp_relay.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <list>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace wonderland::testing {
namespace {

constexpr int kBuffer = 64 * 1024;

void set_nonblocking(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/// One direction of a relayed connection: bytes read from `from` and not yet written to `to`.
struct Pipe {
  int from = -1;
  int to = -1;
  std::string pending;

  /// Moves what it can; false when either side is finished.
  bool pump(bool may_read) {
    if (pending.empty() && may_read) {
      char buf[kBuffer];
      ssize_t n = ::recv(from, buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
        return false;
      if (n > 0)
        pending.assign(buf, static_cast<std::size_t>(n));
    }
    if (!pending.empty()) {
      ssize_t n = ::send(to, pending.data(), pending.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        return false;
      if (n > 0)
        pending.erase(0, static_cast<std::size_t>(n));
    }
    return true;
  }
};

struct Link {
  Pipe up;                // client to server
  Pipe down;              // server to client
  bool stalled = false;   // the client's bytes are not read
  bool silenced = false;  // nothing is read, either way
  ~Link() {
    ::close(up.from);
    ::close(up.to);
  }
};

}  // namespace

struct TcpRelay::State {
  int target_port = 0;
  int listener = -1;
  int port = 0;
  int wake[2] = {-1, -1};
  std::atomic<bool> stop{false};
  std::mutex mutex;  // guards the commands below
  std::condition_variable applied;
  bool stall_requested = false;
  bool silence_requested = false;
  bool resume_requested = false;
  std::list<Link> links;
  std::thread thread;

  void accept_one() {
    int client = ::accept(listener, nullptr, nullptr);
    if (client < 0)
      return;
    int server = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(target_port));
    if (::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(server);
      ::close(client);
      return;
    }
    set_nonblocking(client);
    set_nonblocking(server);
    Link& link = links.emplace_back();
    link.up = Pipe{client, server, {}};
    link.down = Pipe{server, client, {}};
  }

  void run() {
    while (!stop) {
      {
        std::lock_guard lock(mutex);
        for (auto& link : links) {
          if (stall_requested)
            link.stalled = true;
          if (silence_requested)
            link.silenced = true;
          if (resume_requested)
            link.stalled = link.silenced = false;
        }
        stall_requested = silence_requested = resume_requested = false;
      }
      applied.notify_all();
      std::vector<pollfd> fds{{wake[0], POLLIN, 0}, {listener, POLLIN, 0}};
      for (auto& link : links) {
        const bool read_up = !link.stalled && !link.silenced;
        int up_events = link.up.pending.empty() ? (read_up ? POLLIN : 0) : 0;
        int down_events = link.down.pending.empty() ? (link.silenced ? 0 : POLLIN) : 0;
        if (!link.up.pending.empty())
          down_events |= POLLOUT;  // the server's socket takes the client's bytes
        if (!link.down.pending.empty())
          up_events |= POLLOUT;
        fds.push_back({link.up.from, static_cast<short>(up_events), 0});
        fds.push_back({link.down.from, static_cast<short>(down_events), 0});
      }
      ::poll(fds.data(), fds.size(), 200);
      if ((fds[0].revents & POLLIN) != 0) {
        char drain[64];
        while (::read(wake[0], drain, sizeof drain) > 0) {
        }
      }
      if ((fds[1].revents & POLLIN) != 0)
        accept_one();
      for (auto it = links.begin(); it != links.end();) {
        bool ok = it->up.pump(!it->stalled && !it->silenced) && it->down.pump(!it->silenced);
        it = ok ? std::next(it) : links.erase(it);
      }
    }
  }

  void poke() const {
    char c = 0;
    [[maybe_unused]] ssize_t n = ::write(wake[1], &c, 1);
  }
};

TcpRelay::TcpRelay(int target_port) : s_(std::make_unique<State>()) {
  s_->target_port = target_port;
  s_->listener = ::socket(AF_INET, SOCK_STREAM, 0);
  int small = kBuffer;
  ::setsockopt(s_->listener, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);  // the clients' sockets
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(s_->listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(s_->listener, 16) != 0 ||
      ::getsockname(s_->listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      ::pipe2(s_->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
    throw std::runtime_error("the TCP relay cannot listen");
  }
  s_->port = ntohs(addr.sin_port);
  set_nonblocking(s_->listener);
  s_->thread = std::thread([this] { s_->run(); });
}

TcpRelay::~TcpRelay() {
  s_->stop = true;
  s_->poke();
  s_->thread.join();
  s_->links.clear();
  ::close(s_->listener);
  ::close(s_->wake[0]);
  ::close(s_->wake[1]);
}

int TcpRelay::port() const {
  return s_->port;
}

void TcpRelay::stall_open_connections() {
  std::unique_lock lock(s_->mutex);
  s_->stall_requested = true;
  s_->poke();
  s_->applied.wait(lock, [this] { return !s_->stall_requested; });
}

void TcpRelay::silence_open_connections() {
  std::unique_lock lock(s_->mutex);
  s_->silence_requested = true;
  s_->poke();
  s_->applied.wait(lock, [this] { return !s_->silence_requested; });
}

void TcpRelay::resume() {
  std::unique_lock lock(s_->mutex);
  s_->resume_requested = true;
  s_->poke();
  s_->applied.wait(lock, [this] { return !s_->resume_requested; });
}

}  // namespace wonderland::testing
