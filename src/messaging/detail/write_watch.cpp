// The process's one watcher of sockets whose writes rabbitmq-c makes without a time limit.
#include "detail/write_watch.hpp"

#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "detail/tcp_counters.hpp"

namespace wonderland::messaging::detail {

class WriteWatchMonitor {
 public:
  /// Created at the first arm and never destroyed: a connection may be closed by a static
  /// destructor, after anything this file could rely on at exit is gone.
  static WriteWatchMonitor& instance() {
    static auto* monitor = new WriteWatchMonitor();
    return *monitor;
  }

  void arm(WriteWatch& w, int fd) {
    std::lock_guard lock(mutex_);
    if (w.depth_++ > 0)
      return;
    w.fd_ = fd;
    w.fired_ = false;
    // No system call here (this is on the path of every write over TLS): the first look at the
    // socket takes its count of acknowledged bytes, and the time-out runs from then.
    w.last_progress_ = std::chrono::steady_clock::now();
    w.last_acked_ = kUnknown;
    watched_.push_back(&w);
    if (sleeping_)  // it waits for a first watch with no deadline
      wake_.notify_one();
  }

  bool fired(const WriteWatch& w) {
    std::lock_guard lock(mutex_);
    return w.fired_;
  }

  /// Ends one arm; with `all`, every one (the watch is going away).
  void disarm(WriteWatch& w, bool all = false) noexcept {
    std::lock_guard lock(mutex_);
    if (w.depth_ == 0)
      return;
    w.depth_ = all ? 0 : w.depth_ - 1;
    if (w.depth_ > 0)
      return;
    std::erase(watched_, &w);
    w.fd_ = -1;
  }

 private:
  static constexpr std::chrono::milliseconds kTick{100};
  static constexpr std::uint64_t kUnknown = ~std::uint64_t{0};

  WriteWatchMonitor() {
    std::thread([this] { run(); }).detach();
  }

  /// Bytes of `fd` that the peer acknowledged; 0 when the kernel cannot say.
  static std::uint64_t acked_bytes(int fd) noexcept {
    std::optional<tcp_info> counters = tcp_counters(fd);
    return counters ? counters->tcpi_bytes_acked : 0;
  }

  /// Bytes written to `fd` that the peer has not acknowledged yet (sent or not).
  static int unacknowledged(int fd) noexcept {
    int queued = 0;
    if (::ioctl(fd, SIOCOUTQ, &queued) != 0)
      return 0;
    return queued;
  }

  void run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      if (watched_.empty()) {
        sleeping_ = true;
        wake_.wait(lock, [this] { return !watched_.empty(); });
        sleeping_ = false;
      }
      wake_.wait_for(lock, kTick);
      const auto now = std::chrono::steady_clock::now();
      for (WriteWatch* w : watched_)
        check(*w, now);
    }
  }

  static void check(WriteWatch& w, std::chrono::steady_clock::time_point now) noexcept {
    if (w.fired_)
      return;
    const std::uint64_t acked = acked_bytes(w.fd_);
    if (acked != w.last_acked_ || unacknowledged(w.fd_) == 0) {
      w.last_acked_ = acked;
      w.last_progress_ = now;
      return;
    }
    if (now - w.last_progress_ < w.timeout_)
      return;
    // Marked before the shutdown: the owner's write fails the moment the socket is shut down,
    // and the owner then asks fired() (under this lock) why. The socket itself is closed by
    // its owner.
    w.fired_ = true;
    ::shutdown(w.fd_, SHUT_RDWR);
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<WriteWatch*> watched_;
  bool sleeping_ = false;
};

WriteWatch::~WriteWatch() {
  // depth_ changes only in the owner's thread (under the monitor's lock): reading it here is safe.
  if (depth_ > 0)
    WriteWatchMonitor::instance().disarm(*this, true);  // the monitor must not keep a dangling one
}

bool WriteWatch::fired() const {
  return WriteWatchMonitor::instance().fired(*this);
}

void WriteWatch::arm(int fd) {
  WriteWatchMonitor::instance().arm(*this, fd);
}

void WriteWatch::disarm() noexcept {
  // depth_ changes only in the owner's thread (under the monitor's lock): reading it here is safe.
  if (depth_ > 0)
    WriteWatchMonitor::instance().disarm(*this);
}

}  // namespace wonderland::messaging::detail
