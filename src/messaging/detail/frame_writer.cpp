#include "detail/frame_writer.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "detail/amqp.hpp"

namespace wonderland::messaging::detail {
namespace {

/// type (1), channel (2), payload size (4) before the payload; the frame-end octet after it.
constexpr std::size_t kFrameHead = 7;
constexpr std::size_t kFrameOverhead = kFrameHead + 1;
/// class id (2), weight (2) and body size (8) before a content header's properties.
constexpr std::size_t kHeaderFixed = 12;

void put16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}

void put32(std::uint8_t* p, std::uint32_t v) {
  put16(p, static_cast<std::uint16_t>(v >> 16));
  put16(p + 2, static_cast<std::uint16_t>(v));
}

void put64(std::uint8_t* p, std::uint64_t v) {
  put32(p, static_cast<std::uint32_t>(v >> 32));
  put32(p + 4, static_cast<std::uint32_t>(v));
}

}  // namespace

int poll_writable(int fd, std::chrono::milliseconds timeout) noexcept {
  pollfd p{fd, POLLOUT, 0};
  for (;;) {
    int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (n >= 0)
      return n == 0 ? 0 : p.revents;
    if (errno != EINTR)
      return -1;
  }
}

void FrameWriter::set_frame_max(std::size_t frame_max) {
  frame_max_ = std::max<std::size_t>(frame_max, AMQP_FRAME_MIN_SIZE);
}

std::uint8_t* FrameWriter::room(std::size_t n) {
  if (capacity_ - size_ < n) {
    std::size_t capacity = std::max(size_ + n, 2 * capacity_);
    auto grown = std::make_unique<std::uint8_t[]>(capacity);
    if (size_ > 0)
      std::memcpy(grown.get(), data_.get(), size_);
    data_ = std::move(grown);
    capacity_ = capacity;
  }
  return data_.get() + size_;
}

template <typename Fill>
void FrameWriter::frame(std::uint8_t type, amqp_channel_t channel, std::size_t max_payload,
                        Fill fill) {
  std::uint8_t* p = room(kFrameOverhead + max_payload);
  const std::size_t n = fill(p + kFrameHead, max_payload);
  p[0] = type;
  put16(p + 1, channel);
  put32(p + 3, static_cast<std::uint32_t>(n));
  p[kFrameHead + n] = AMQP_FRAME_END;
  size_ += kFrameOverhead + n;
}

void FrameWriter::method(amqp_channel_t channel, amqp_method_number_t id, void* decoded) {
  frame(AMQP_FRAME_METHOD, channel, frame_max_ - kFrameOverhead,
        [&](std::uint8_t* payload, std::size_t max) {
          put32(payload, id);
          int n = amqp_encode_method(id, decoded, amqp_bytes_t{max - 4, payload + 4});
          if (n < 0)
            throw AmqpError(std::string("encoding an AMQP method: ") + amqp_error_string2(n));
          return 4 + static_cast<std::size_t>(n);
        });
}

void FrameWriter::header(amqp_channel_t channel, std::uint64_t body_size,
                         amqp_basic_properties_t* props) {
  frame(AMQP_FRAME_HEADER, channel, frame_max_ - kFrameOverhead,
        [&](std::uint8_t* payload, std::size_t max) {
          put16(payload, AMQP_BASIC_CLASS);
          put16(payload + 2, 0);  // weight
          put64(payload + 4, body_size);
          int n = amqp_encode_properties(AMQP_BASIC_CLASS, props,
                                         amqp_bytes_t{max - kHeaderFixed, payload + kHeaderFixed});
          if (n < 0) {
            throw AmqpError(std::string("encoding message properties: ") + amqp_error_string2(n));
          }
          return kHeaderFixed + static_cast<std::size_t>(n);
        });
}

void FrameWriter::body(amqp_channel_t channel, std::string_view content) {
  const std::size_t chunk = frame_max_ - kFrameOverhead;
  for (std::size_t offset = 0; offset < content.size(); offset += chunk) {
    const std::size_t n = std::min(chunk, content.size() - offset);
    frame(AMQP_FRAME_BODY, channel, n, [&](std::uint8_t* payload, std::size_t) {
      std::memcpy(payload, content.data() + offset, n);
      return n;
    });
  }
}

void FrameWriter::heartbeat() {
  frame(AMQP_FRAME_HEARTBEAT, 0, 0, [](std::uint8_t*, std::size_t) { return std::size_t{0}; });
}

void FrameWriter::publish(amqp_channel_t channel, amqp_basic_publish_t* fields,
                          amqp_basic_properties_t* props, std::string_view content) {
  const std::size_t before = size_;
  try {
    method(channel, AMQP_BASIC_PUBLISH_METHOD, fields);
    header(channel, content.size(), props);
    body(channel, content);
  } catch (...) {
    size_ = before;  // never half a message on the wire
    throw;
  }
}

void FrameWriter::write_to(int fd, std::chrono::milliseconds timeout) {
  std::size_t sent = 0;
  const std::size_t total = size_;
  size_ = 0;  // whatever happens below, these bytes are never written again
  while (sent < total) {
    ssize_t n = ::send(fd, data_.get() + sent, total - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      const int ready = poll_writable(fd, timeout);
      if (ready < 0)
        throw AmqpError(std::string("waiting to send to the broker: ") + std::strerror(errno));
      if (ready == 0) {
        throw AmqpError("sending to the broker: no room in the socket for " +
                        std::to_string(timeout.count()) + " ms");
      }
      continue;
    }
    throw AmqpError(std::string("sending to the broker: ") +
                    (n < 0 ? std::strerror(errno) : "the socket took nothing"));
  }
  if (capacity_ > kKeptCapacity) {
    data_.reset();
    capacity_ = 0;
  }
}

}  // namespace wonderland::messaging::detail
