// WriteWatch over real loopback TCP connections: a blocking write that the peer never reads is
// ended after the time-out, and a socket that makes progress, or has nothing left to send, is
// left alone.
#include "detail/write_watch.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace wonderland::messaging::detail {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

/// Both ends of a loopback TCP connection, with small buffers so that they fill quickly.
struct TcpPair {
  int writer = -1;
  int reader = -1;

  TcpPair() {
    int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    int small = 64 * 1024;
    EXPECT_EQ(::setsockopt(listener, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
    EXPECT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(listener, 1), 0);
    EXPECT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    writer = ::socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_EQ(::setsockopt(writer, SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    EXPECT_EQ(::connect(writer, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    reader = ::accept(listener, nullptr, nullptr);
    ::close(listener);
  }
  ~TcpPair() {
    ::close(writer);
    ::close(reader);
  }
  TcpPair(const TcpPair&) = delete;
  TcpPair& operator=(const TcpPair&) = delete;

  /// Writes `total` bytes with blocking send() calls (as rabbitmq-c's waits without a deadline
  /// do); the errno of the first failed send, or 0 when all were written.
  int write_all(std::size_t total) const {
    const std::string chunk(std::size_t{16} * 1024, 'x');
    for (std::size_t sent = 0; sent < total;) {
      ssize_t n = ::send(writer, chunk.data(), std::min(chunk.size(), total - sent), MSG_NOSIGNAL);
      if (n < 0)
        return errno;
      sent += static_cast<std::size_t>(n);
    }
    return 0;
  }
};

/// Ends `fd`'s stuck writes after 10 s, so that a watch that never fires fails the test instead
/// of hanging it; stopped early when the test is done (the jthread's stop token).
std::jthread backstop(int fd) {
  return std::jthread([fd](const std::stop_token& done) {
    std::mutex mutex;
    std::condition_variable_any cv;
    std::unique_lock lock(mutex);
    cv.wait_for(lock, done, 10s, [] { return false; });  // wakes when stopped or after 10 s
    if (!done.stop_requested())
      ::shutdown(fd, SHUT_RDWR);
  });
}

TEST(WriteWatchTest, AWriteThePeerNeverReadsFailsAfterTheTimeOut) {
  TcpPair pair;
  std::jthread stop_stuck_writes = backstop(pair.writer);
  WriteWatch watch(300ms);
  const auto start = Clock::now();
  int error = 0;
  {
    WriteWatch::Armed armed(watch, pair.writer);
    error = pair.write_all(std::size_t{64} << 20);  // far more than both buffers hold
  }
  const auto took = Clock::now() - start;
  EXPECT_EQ(error, EPIPE);
  EXPECT_TRUE(watch.fired());
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 5s) << "ended by the test's backstop, not by the watch";
}

TEST(WriteWatchTest, AWriteThePeerReadsSlowlyIsNotEnded) {
  TcpPair pair;
  WriteWatch watch(300ms);
  std::atomic<bool> done{false};
  // The peer reads a little every 100 ms: the write takes seconds, but never stalls for 300 ms.
  std::thread reader([&] {
    std::vector<char> buf(std::size_t{64} * 1024);
    std::size_t total = 0;
    while (!done.load() && total < (std::size_t{4} << 20)) {
      std::this_thread::sleep_for(100ms);
      ssize_t n = ::recv(pair.reader, buf.data(), buf.size(), MSG_DONTWAIT);
      if (n > 0)
        total += static_cast<std::size_t>(n);
    }
    while (::recv(pair.reader, buf.data(), buf.size(), MSG_DONTWAIT) > 0) {
    }
  });
  int error = 0;
  const auto start = Clock::now();
  {
    WriteWatch::Armed armed(watch, pair.writer);
    error = pair.write_all(std::size_t{1} << 20);
  }
  done = true;
  reader.join();
  EXPECT_EQ(error, 0);
  EXPECT_FALSE(watch.fired());
  EXPECT_GT(Clock::now() - start, 500ms) << "the write never waited for the peer";
}

TEST(WriteWatchTest, ASocketWithEverythingAcknowledgedIsLeftAloneWhileItWaits) {
  // A synchronous method waits for the broker's answer with its write armed: the socket holds
  // nothing unacknowledged, and must not be shut down however long the answer takes.
  TcpPair pair;
  WriteWatch watch(200ms);
  {
    WriteWatch::Armed armed(watch, pair.writer);
    ASSERT_EQ(pair.write_all(100), 0);
    std::this_thread::sleep_for(800ms);
  }
  EXPECT_FALSE(watch.fired());
  char buf[128];
  EXPECT_EQ(::recv(pair.reader, buf, sizeof buf, 0), 100);
  EXPECT_EQ(::send(pair.writer, buf, 1, MSG_NOSIGNAL), 1) << "the socket was shut down";
}

TEST(WriteWatchTest, ArmsNestAndTheOutermostDisarmEndsTheWatch) {
  TcpPair pair;
  std::jthread stop_stuck_writes = backstop(pair.writer);
  WriteWatch watch(200ms);
  const auto start = Clock::now();
  {
    WriteWatch::Armed outer(watch, pair.writer);
    { WriteWatch::Armed inner(watch, pair.writer); }
    // Still armed after the inner scope: the unread write is ended.
    EXPECT_EQ(pair.write_all(std::size_t{64} << 20), EPIPE);
  }
  EXPECT_LT(Clock::now() - start, 5s) << "ended by the test's backstop, not by the watch";
  EXPECT_TRUE(watch.fired());
  // Armed again, on the next connection's socket: a new watch, not yet fired.
  TcpPair next;
  WriteWatch::Armed again(watch, next.writer);
  EXPECT_FALSE(watch.fired());
  EXPECT_EQ(next.write_all(1000), 0);
}

TEST(WriteWatchTest, AWatchDestroyedWhileArmedIsForgotten) {
  // The monitor must not look at a watch that is gone (AddressSanitizer reports it if it does).
  TcpPair pair;
  auto watch = std::make_unique<WriteWatch>(100ms);
  watch->arm(pair.writer);
  watch->arm(pair.writer);
  watch.reset();
  std::this_thread::sleep_for(300ms);
  WriteWatch other(100ms);
  WriteWatch::Armed armed(other, pair.writer);
  EXPECT_EQ(pair.write_all(1000), 0);
  EXPECT_FALSE(other.fired());
}

}  // namespace
}  // namespace wonderland::messaging::detail
