// FrameWriter against rabbitmq-c's own decoders, and its writes over a real socket pair.
#include "detail/frame_writer.hpp"

#include <amqp.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "detail/amqp.hpp"
#include "detail/amqp_codec.hpp"

namespace wonderland::messaging::detail {
namespace {

struct Frame {
  int type = 0;
  int channel = 0;
  std::string payload;
};

std::uint64_t be(const std::string& s, std::size_t at, int n) {
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i)
    v = (v << 8) | static_cast<unsigned char>(s[at + static_cast<std::size_t>(i)]);
  return v;
}

/// Splits `wire` into frames, checking every frame's size and end octet.
std::vector<Frame> frames_of(const std::string& wire) {
  std::vector<Frame> out;
  std::size_t at = 0;
  while (at < wire.size()) {
    EXPECT_GE(wire.size() - at, 8U);
    Frame f;
    f.type = static_cast<int>(be(wire, at, 1));
    f.channel = static_cast<int>(be(wire, at + 1, 2));
    const auto size = static_cast<std::size_t>(be(wire, at + 3, 4));
    EXPECT_LE(at + 8 + size, wire.size());
    f.payload = wire.substr(at + 7, size);
    EXPECT_EQ(static_cast<unsigned char>(wire[at + 7 + size]), AMQP_FRAME_END);
    out.push_back(f);
    at += 8 + size;
  }
  return out;
}

/// A connected pair of stream sockets; the writer's end is non-blocking, as rabbitmq-c's is.
struct SocketPair {
  int writer = -1;
  int reader = -1;
  SocketPair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    writer = fds[0];
    reader = fds[1];
    ::fcntl(writer, F_SETFL, ::fcntl(writer, F_GETFL) | O_NONBLOCK);
  }
  ~SocketPair() {
    ::close(writer);
    if (reader >= 0)
      ::close(reader);
  }
  SocketPair(const SocketPair&) = delete;
  SocketPair& operator=(const SocketPair&) = delete;

  std::string read_all() {
    std::string out;
    char buf[65536];
    ::fcntl(reader, F_SETFL, ::fcntl(reader, F_GETFL) | O_NONBLOCK);
    for (;;) {
      ssize_t n = ::read(reader, buf, sizeof buf);
      if (n <= 0)
        return out;
      out.append(buf, static_cast<std::size_t>(n));
    }
  }
};

/// The bytes `w` holds, read back through a socket pair.
std::string wire_of(FrameWriter& w) {
  SocketPair pair;
  w.write_to(pair.writer, std::chrono::seconds(1));
  return pair.read_all();
}

class Pool {
 public:
  Pool() { init_amqp_pool(&pool_, 4096); }
  ~Pool() { empty_amqp_pool(&pool_); }
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
  amqp_pool_t* get() { return &pool_; }

 private:
  amqp_pool_t pool_;
};

amqp_bytes_t view(std::string& s, std::size_t from = 0) {
  return amqp_bytes_t{s.size() - from, s.data() + from};
}

void publish(FrameWriter& w, const std::string& exchange, const std::string& body,
             const Properties& p = {}) {
  amqp_basic_publish_t m{};
  m.exchange = bytes(exchange);
  m.routing_key = amqp_cstring_bytes("orders.reserve");
  m.mandatory = 1;
  BasicProperties props(p);
  w.publish(3, &m, const_cast<amqp_basic_properties_t*>(props.get()), body);
}

TEST(FrameWriterTest, APublishIsTheThreeFramesRabbitmqcDecodes) {
  FrameWriter w;
  w.set_frame_max(131072);
  Properties p;
  p.message_id = "m-1";
  p.reply_to = "amq.rabbitmq.reply-to";
  p.persistent = true;
  p.int_headers = {{"x-wonderland-attempt", 2}};
  publish(w, "wonderland.commands", "{\"x\":1}", p);
  std::string wire = wire_of(w);
  EXPECT_TRUE(w.empty());
  auto frames = frames_of(wire);
  ASSERT_EQ(frames.size(), 3U);

  Pool pool;
  EXPECT_EQ(frames[0].type, AMQP_FRAME_METHOD);
  EXPECT_EQ(frames[0].channel, 3);
  ASSERT_EQ(be(frames[0].payload, 0, 4), AMQP_BASIC_PUBLISH_METHOD);
  void* decoded = nullptr;
  ASSERT_EQ(amqp_decode_method(AMQP_BASIC_PUBLISH_METHOD, pool.get(), view(frames[0].payload, 4),
                               &decoded),
            AMQP_STATUS_OK);
  const auto* m = static_cast<const amqp_basic_publish_t*>(decoded);
  EXPECT_EQ(str(m->exchange), "wonderland.commands");
  EXPECT_EQ(str(m->routing_key), "orders.reserve");
  EXPECT_EQ(m->mandatory, 1);

  EXPECT_EQ(frames[1].type, AMQP_FRAME_HEADER);
  EXPECT_EQ(frames[1].channel, 3);
  EXPECT_EQ(be(frames[1].payload, 0, 2), AMQP_BASIC_CLASS);
  EXPECT_EQ(be(frames[1].payload, 4, 8), 7U);  // the body's size
  ASSERT_EQ(
      amqp_decode_properties(AMQP_BASIC_CLASS, pool.get(), view(frames[1].payload, 12), &decoded),
      AMQP_STATUS_OK);
  Properties back = read_properties(static_cast<const amqp_basic_properties_t*>(decoded));
  EXPECT_EQ(back.message_id, "m-1");
  EXPECT_EQ(back.reply_to, "amq.rabbitmq.reply-to");
  EXPECT_TRUE(back.persistent);
  EXPECT_EQ(back.int_header("x-wonderland-attempt"), 2);

  EXPECT_EQ(frames[2].type, AMQP_FRAME_BODY);
  EXPECT_EQ(frames[2].payload, "{\"x\":1}");
}

TEST(FrameWriterTest, ABodyLargerThanAFrameIsSplitAndAnEmptyOneHasNoBodyFrame) {
  FrameWriter w;
  w.set_frame_max(4096);
  std::string body(10000, 'b');
  body[0] = 'a';
  body.back() = 'z';
  publish(w, "ex", body);
  publish(w, "ex", "");
  auto frames = frames_of(wire_of(w));
  ASSERT_EQ(frames.size(), 7U);  // method, header, 3 bodies; method, header
  EXPECT_EQ(frames[2].payload.size(), 4088U);
  EXPECT_EQ(frames[3].payload.size(), 4088U);
  EXPECT_EQ(frames[4].payload.size(), 1824U);
  EXPECT_EQ(frames[2].payload + frames[3].payload + frames[4].payload, body);
  EXPECT_EQ(frames[5].type, AMQP_FRAME_METHOD);
  EXPECT_EQ(frames[6].type, AMQP_FRAME_HEADER);
  EXPECT_EQ(be(frames[6].payload, 4, 8), 0U);
}

TEST(FrameWriterTest, AMessageThatCannotBeEncodedLeavesWhatWasHeldAsItWas) {
  FrameWriter w;
  amqp_basic_ack_t ack{};
  ack.delivery_tag = 42;
  w.method(3, AMQP_BASIC_ACK_METHOD, &ack);
  const std::size_t held = w.size();
  EXPECT_THROW(publish(w, std::string(300, 'x'), "body"), AmqpError);  // a short string: <= 255
  EXPECT_EQ(w.size(), held);
  auto frames = frames_of(wire_of(w));
  ASSERT_EQ(frames.size(), 1U);
  EXPECT_EQ(be(frames[0].payload, 0, 4), AMQP_BASIC_ACK_METHOD);
  EXPECT_EQ(be(frames[0].payload, 4, 8), 42U);
}

TEST(FrameWriterTest, AHeartbeatIsTheEightBytesOfAnEmptyFrameOnChannelZero) {
  FrameWriter w;
  w.heartbeat();
  EXPECT_EQ(w.size(), 8U);
  const std::string wire = wire_of(w);
  EXPECT_EQ(wire, std::string("\x08\x00\x00\x00\x00\x00\x00\xCE", 8));
  EXPECT_EQ(static_cast<unsigned char>(wire[0]), AMQP_FRAME_HEARTBEAT);
}

TEST(FrameWriterTest, WhatTheSocketCannotTakeAtOnceFollowsAsTheReaderDrainsIt) {
  FrameWriter w;
  w.set_frame_max(131072);
  std::string body(std::size_t{8} << 20, 'b');
  for (std::size_t i = 0; i < body.size(); i += 4096)
    body[i] = static_cast<char>('a' + (i / 4096) % 26);  // a pattern, so order shows
  publish(w, "ex", body);
  SocketPair pair;
  std::string received;
  std::thread reader([&] {
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(pair.reader, buf, sizeof buf);  // blocking: ends when the writer closes
      if (n <= 0)
        return;
      received.append(buf, static_cast<std::size_t>(n));
      std::this_thread::sleep_for(std::chrono::microseconds(50));  // slower than the writer
    }
  });
  w.write_to(pair.writer, std::chrono::seconds(10));
  ::shutdown(pair.writer, SHUT_WR);
  reader.join();
  auto frames = frames_of(received);
  ASSERT_EQ(frames.size(), 2U + (body.size() + 131063) / 131064);
  std::string back;
  for (std::size_t i = 2; i < frames.size(); ++i)
    back += frames[i].payload;
  EXPECT_TRUE(back == body);
  EXPECT_TRUE(w.empty());
}

TEST(FrameWriterTest, WritingToAClosedPeerFailsAndForgetsTheFrames) {
  FrameWriter w;
  publish(w, "ex", "body");
  SocketPair pair;
  ::close(pair.reader);
  pair.reader = -1;
  EXPECT_THROW(w.write_to(pair.writer, std::chrono::seconds(1)), AmqpError);
  EXPECT_TRUE(w.empty());
}

TEST(FrameWriterTest, WritingToASocketNobodyReadsFailsAfterTheTimeout) {
  FrameWriter w;
  w.set_frame_max(131072);
  const std::string body(1 << 20, 'b');
  for (int i = 0; i < 16; ++i)
    publish(w, "ex", body);  // 16 MiB, far more than the socket buffers hold
  SocketPair pair;
  const auto started = std::chrono::steady_clock::now();
  try {
    w.write_to(pair.writer, std::chrono::milliseconds(200));
    ADD_FAILURE() << "16 MiB went into a socket that nobody reads";
  } catch (const AmqpError& e) {
    EXPECT_NE(std::string(e.what()).find("no room"), std::string::npos) << e.what();
  }
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(200));
  EXPECT_TRUE(w.empty());
}

}  // namespace
}  // namespace wonderland::messaging::detail
