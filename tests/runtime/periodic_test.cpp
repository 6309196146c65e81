// runtime::Periodic: runs repeatedly, stops at once however long the interval, joins its thread,
// and survives a throwing task.
#include "wonderland/runtime/periodic.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

namespace wonderland::runtime {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

/// Waits up to 10 s for `done`; returns whether it came true.
template <class Pred>
bool eventually(Pred done) {
  const auto deadline = Clock::now() + 10s;
  while (!done()) {
    if (Clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

TEST(PeriodicTest, RunsTheTaskRepeatedly) {
  std::atomic<int> runs{0};
  Periodic periodic("test", 5ms, [&] { ++runs; });
  EXPECT_TRUE(eventually([&] { return runs.load() >= 3; }));
}

TEST(PeriodicTest, StopWakesTheThreadBeforeTheInterval) {
  std::atomic<int> runs{0};
  Periodic periodic("test", 1h, [&] { ++runs; });
  const auto start = Clock::now();
  periodic.stop();
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_EQ(runs.load(), 0);  // the first run was one interval away
}

TEST(PeriodicTest, DestructorWakesTheThreadBeforeTheInterval) {
  const auto start = Clock::now();
  {
    Periodic periodic("test", 1h, [] {});
  }
  EXPECT_LT(Clock::now() - start, 5s);
}

TEST(PeriodicTest, AtStartRunsAtOnceThenWaitsTheInterval) {
  std::atomic<int> runs{0};
  Periodic periodic(
      "test", 1h, [&] { ++runs; }, Periodic::First::kAtStart);
  EXPECT_TRUE(eventually([&] { return runs.load() == 1; }));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(runs.load(), 1);
  periodic.stop();
  EXPECT_EQ(runs.load(), 1);
}

TEST(PeriodicTest, DestructorWaitsForTheRunInProgress) {
  std::atomic<bool> started{false};
  std::atomic<bool> finished{false};
  {
    Periodic periodic("test", 1ms, [&] {
      if (started.exchange(true))
        return;
      std::this_thread::sleep_for(100ms);
      finished = true;
    });
    ASSERT_TRUE(eventually([&] { return started.load(); }));
  }
  EXPECT_TRUE(finished.load());
}

TEST(PeriodicTest, NoRunAfterStopReturns) {
  std::atomic<int> runs{0};
  Periodic periodic("test", 1ms, [&] { ++runs; });
  ASSERT_TRUE(eventually([&] { return runs.load() >= 1; }));
  periodic.stop();
  const int after_stop = runs.load();
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(runs.load(), after_stop);
  periodic.stop();  // a second stop (and the destructor's) does nothing
}

TEST(PeriodicTest, AThrowingTaskRunsAgainAtTheNextInterval) {
  std::atomic<int> runs{0};
  Periodic periodic("test", 2ms, [&] {
    if (++runs % 2 == 1)
      throw std::runtime_error("flush failed");
    throw 42;  // not a std::exception either
  });
  EXPECT_TRUE(eventually([&] { return runs.load() >= 4; }));
}

}  // namespace
}  // namespace wonderland::runtime
