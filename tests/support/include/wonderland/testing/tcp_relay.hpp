// Test support: a TCP relay in front of a server, which can stop reading from its clients the way
// a broker under a memory alarm stops reading from a connection that publishes, or stop relaying
// altogether the way a broken network path does.
#pragma once

#include <memory>

namespace wonderland::testing {

/// Listens on 127.0.0.1 (a port of the kernel's choosing) and relays each connection it accepts,
/// both ways, to a connection of its own to 127.0.0.1:`target_port`. What passes through is not
/// looked at, so TLS goes through unchanged. Its sockets take at most 64 KiB at a time from a
/// client, so that a client's writes fill its socket quickly once the relay stops reading.
class TcpRelay {
 public:
  explicit TcpRelay(int target_port);
  ~TcpRelay();  ///< closes every connection
  TcpRelay(const TcpRelay&) = delete;
  TcpRelay& operator=(const TcpRelay&) = delete;

  int port() const;
  /// Stops reading from the clients of the connections open now; what the server sends still
  /// reaches them. Connections accepted later are relayed as usual.
  void stall_open_connections();
  /// Stops reading either side of the connections open now (what was read is still delivered), as
  /// when the path between client and server breaks without a word: neither side hears from the
  /// other again, and neither connection is closed. Connections accepted later are relayed as
  /// usual.
  void silence_open_connections();
  /// Reads from every client, and relays every connection both ways, again.
  void resume();

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace wonderland::testing
