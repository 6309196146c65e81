#include "wonderland/testing/ports.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace wonderland::testing {
namespace {

/// Whether another process (a forked child) could reserve the ports from `first` on.
bool another_process_can_reserve(int first, int count = 1, int offset = 0) {
  pid_t child = ::fork();
  if (child == 0)
    ::_exit(PortReservation::try_reserve(first, count, offset) ? 0 : 1);
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

TEST(PortReservation, APortStaysReservedWhileNothingListensOnIt) {
  auto held = PortReservation::reserve();
  ASSERT_GE(held.first(), 20000);
  ASSERT_LT(held.first(), 30000);
  // Nothing listens on the port, so a bind check alone would hand it out again.
  EXPECT_FALSE(another_process_can_reserve(held.first()));
  EXPECT_FALSE(PortReservation::try_reserve(held.first()));
  const int port = held.first();
  held = PortReservation();
  EXPECT_TRUE(another_process_can_reserve(port));
}

TEST(PortReservation, EveryPortOfARangeAndItsCompanionsIsHeld) {
  auto held = PortReservation::reserve(3, -10000);
  const int first = held.first();
  for (int port : {first, first + 1, first + 2, first - 10000, first - 9998})
    EXPECT_FALSE(another_process_can_reserve(port)) << port;
  EXPECT_FALSE(another_process_can_reserve(first - 1, 2));  // overlaps the range's start
}

TEST(PortReservation, APortSomethingListensOnIsNotReserved) {
  auto held = PortReservation::reserve();
  const int port = held.first();
  held = PortReservation();
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  EXPECT_FALSE(PortReservation::try_reserve(port));
  ::close(fd);
  EXPECT_TRUE(PortReservation::try_reserve(port));
}

TEST(PortReservation, AMovedReservationStillHoldsItsPorts) {
  auto held = PortReservation::reserve(2);
  const int first = held.first();
  std::vector<PortReservation> kept;
  kept.push_back(std::move(held));  // as a harness keeps one per mediator
  EXPECT_EQ(kept.back().first(), first);
  EXPECT_FALSE(another_process_can_reserve(first, 2));
  kept.clear();
  EXPECT_TRUE(another_process_can_reserve(first, 2));
}

}  // namespace
}  // namespace wonderland::testing
