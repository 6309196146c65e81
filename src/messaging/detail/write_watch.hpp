// WriteWatch: a time limit for the writes that rabbitmq-c makes itself. Its send functions wait
// for room in the socket with no deadline, and a broker under a memory or disk alarm stops reading
// from a connection that publishes: the I/O thread would wait in that write for as long as the
// alarm lasts, and nothing else on the connection (timers, replies, confirms) would move. Over
// plain TCP the library writes publishes and acknowledgements itself (FrameWriter, which has
// its own time-out), but over TLS rabbitmq-c owns the encrypted stream, and on both it writes the
// synchronous methods (declarations, consume, channel.open).
//
// While a WriteWatch is armed, one thread of the process (started at the first arm) looks at the
// socket every 100 ms: when it holds bytes that the broker has not acknowledged, and the count of
// bytes the broker acknowledged (TCP_INFO) has not moved for the time-out, it shuts the socket
// down. The waiting write then fails at once, and the session drops the connection as after any
// failed write. A connection that waits for an answer, with everything it sent acknowledged, is
// never touched: only a write that the broker does not take is.
#pragma once

#include <chrono>
#include <cstdint>

namespace wonderland::messaging::detail {

class WriteWatch {
 public:
  explicit WriteWatch(std::chrono::milliseconds timeout) : timeout_(timeout) {}
  ~WriteWatch();  ///< disarms, however many arms are open
  WriteWatch(const WriteWatch&) = delete;
  WriteWatch& operator=(const WriteWatch&) = delete;

  /// From now until the matching disarm(), the socket `fd` is shut down once it holds bytes the
  /// broker has acknowledged none of for the time-out. The socket must stay open until then.
  /// Nests: an arm inside an armed scope only counts, and the outermost disarm ends the watch.
  void arm(int fd);
  void disarm() noexcept;
  /// Whether the watch shut the socket down since its outermost arm. A write that failed
  /// because of the shutdown sees true here: the watch is marked before the socket is shut down.
  bool fired() const;
  std::chrono::milliseconds timeout() const noexcept { return timeout_; }

  /// Arms for one scope: `Armed armed(watch, fd);` around a call that may write.
  class Armed {
   public:
    Armed(WriteWatch& watch, int fd) : watch_(watch) { watch_.arm(fd); }
    ~Armed() { watch_.disarm(); }
    Armed(const Armed&) = delete;
    Armed& operator=(const Armed&) = delete;

   private:
    WriteWatch& watch_;
  };

 private:
  friend class WriteWatchMonitor;
  std::chrono::milliseconds timeout_;
  // Guarded by the monitor's mutex.
  bool fired_ = false;
  int depth_ = 0;
  int fd_ = -1;
  std::chrono::steady_clock::time_point last_progress_{};
  std::uint64_t last_acked_ = 0;
};

}  // namespace wonderland::messaging::detail
