// FrameWriter: AMQP frames encoded in this process (with rabbitmq-c's public encoders) and held
// in one buffer, so that a message's three frames, or a batch of publishes and
// acknowledgements, leave in one send() instead of one per frame. rabbitmq-c writes each frame
// with a system call of its own. For the files of src/messaging/detail that talk to rabbitmq-c.
#pragma once

#include <amqp.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace wonderland::messaging::detail {

/// Waits up to `timeout` (through EINTR) until the socket `fd` takes more bytes: poll()'s revents
/// (POLLOUT when it has room; POLLERR or POLLHUP when the next write will fail at once), 0 when
/// the time-out passed first, -1 with errno set when poll() failed.
int poll_writable(int fd, std::chrono::milliseconds timeout) noexcept;

class FrameWriter {
 public:
  /// The buffer's capacity kept between writes; one grown larger (by large messages) is freed.
  static constexpr std::size_t kKeptCapacity = std::size_t{1} << 20;

  /// Appends a method frame; throws AmqpError when `decoded` cannot be encoded in a frame.
  void method(amqp_channel_t channel, amqp_method_number_t id, void* decoded);
  /// Appends the content header frame of a basic-class message with a body of `body_size` bytes.
  void header(amqp_channel_t channel, std::uint64_t body_size, amqp_basic_properties_t* props);
  /// Appends a whole basic.publish (method, content header and body frames), or nothing when it
  /// cannot be encoded (AmqpError).
  void publish(amqp_channel_t channel, amqp_basic_publish_t* fields, amqp_basic_properties_t* props,
               std::string_view body);
  /// Appends `content` as body frames (none when it is empty), each within the frame size.
  void body(amqp_channel_t channel, std::string_view content);
  /// Appends a heartbeat frame.
  void heartbeat();

  /// The largest frame the connection accepts (negotiated at login); 4096 until set.
  void set_frame_max(std::size_t frame_max);

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }

  /// Writes everything held to the socket `fd` (non-blocking), failing once it finds no room in
  /// it for `timeout`, and empties the buffer, also when it throws AmqpError: a stream cut inside
  /// a frame cannot go on, so after a failure the connection must be closed.
  void write_to(int fd, std::chrono::milliseconds timeout);
  /// Forgets what is held (the connection is being closed).
  void discard() { size_ = 0; }

 private:
  /// Room for `n` more bytes at the end of the buffer.
  std::uint8_t* room(std::size_t n);
  /// Appends one frame whose payload `fill(payload, max)` writes and whose size it returns.
  template <typename Fill>
  void frame(std::uint8_t type, amqp_channel_t channel, std::size_t max_payload, Fill fill);

  std::unique_ptr<std::uint8_t[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
  std::size_t frame_max_ = 4096;
};

}  // namespace wonderland::messaging::detail
