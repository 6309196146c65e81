// Test support: TCP ports that stay a test's own while what listens on them restarts.
#pragma once

#include <optional>
#include <vector>

namespace wonderland::testing {

/// Ports in 20000-29999, below the kernel's ephemeral range (32768+), that no other test process
/// on this machine can be given while this object lives. A bind check alone does not do that: a
/// test that stops its broker or its mediator for a while frees the port, and a test running beside
/// it could pick that port and start listening on it before the first one restarts. Each reserved
/// port is held by an exclusive flock(2) on a file in `<temp dir>/wonderland-test-ports/`, which
/// the kernel releases when the process ends, however it ends.
class PortReservation {
 public:
  /// `count` consecutive ports in 20000-29999 that can be bound now and that no other live
  /// reservation holds; with `companion_offset` != 0 the ports that far from each (above, or below
  /// when negative) are held and checked too (a broker's Erlang distribution port). Throws after
  /// 200 tries.
  static PortReservation reserve(int count = 1, int companion_offset = 0);
  /// The same for the ports from `first` on; nullopt when one is held or cannot be bound.
  static std::optional<PortReservation> try_reserve(int first, int count = 1,
                                                    int companion_offset = 0);

  PortReservation() = default;
  PortReservation(PortReservation&& other) noexcept;
  PortReservation& operator=(PortReservation&& other) noexcept;
  PortReservation(const PortReservation&) = delete;
  PortReservation& operator=(const PortReservation&) = delete;
  ~PortReservation();  ///< releases every port

  /// The first reserved port (0 when nothing is reserved).
  int first() const { return first_; }

 private:
  void release();
  int first_ = 0;
  std::vector<int> lock_fds_;
};

}  // namespace wonderland::testing
