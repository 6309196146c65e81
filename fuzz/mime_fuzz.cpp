// Fuzz target: the MIME builder. NUL-separated fields give the sender, the recipient, the
// subject, the Message-ID, the text and HTML bodies, an attachment's name and bytes. A message
// that renders must be 7-bit ASCII with CRLF line endings and no line over 998 characters;
// each encoder keeps its own line limit.
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "fuzz_input.hpp"
#include "wonderland/notification/mime.hpp"

using namespace wonderland::notification;

namespace {

/// Checks 7-bit, CRLF-only text; returns the longest line.
std::size_t check_lines(std::string_view s) {
  std::size_t longest = 0;
  std::size_t line = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    WONDERLAND_FUZZ_CHECK(c < 0x80 && c != 0);
    if (c == '\r') {
      WONDERLAND_FUZZ_CHECK(i + 1 < s.size() && s[i + 1] == '\n');
      longest = std::max(longest, line);
      line = 0;
      ++i;
      continue;
    }
    WONDERLAND_FUZZ_CHECK(c != '\n');
    ++line;
  }
  return std::max(longest, line);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  wonderland::fuzz::FuzzInput in(data, size);
  std::string from = in.next();
  std::string to = in.next();
  EmailMessage m;
  m.subject = in.next();
  m.message_id = in.next();
  m.text = in.next();
  m.html = in.next();
  std::string filename = in.next();
  std::string attachment(in.rest());

  WONDERLAND_FUZZ_CHECK(check_lines(quoted_printable(m.text)) <= 76);
  const std::string subject = encode_header_text(m.subject, 9);
  WONDERLAND_FUZZ_CHECK(check_lines(subject) <= 78);
  WONDERLAND_FUZZ_CHECK(subject.find("\r\n") == std::string::npos
                            ? subject.size() + 9 <= 78
                            : subject.find("\r\n") + 9 <= 78);  // after "Subject: "
  std::string b64 = base64(attachment);
  WONDERLAND_FUZZ_CHECK(check_lines(b64) <= 76);

  try {
    m.from = parse_mailbox(from);
    m.to = parse_mailbox(to);
  } catch (const std::invalid_argument&) {
    m.from = {from, "orders@wonderland.local"};
    m.to = {to, "reader@example.com"};
  }
  (void)is_valid_address(from);
  WONDERLAND_FUZZ_CHECK(check_lines(format_mailbox(m.from)) <= 998);
  if (!filename.empty())
    m.attachments.push_back({filename, "application/pdf", attachment});
  std::string wire;
  try {
    wire = render_message(m);
  } catch (const std::invalid_argument&) {
    m.message_id = "fuzz.1@wonderland.local";
    wire = render_message(m);  // with a valid Message-ID and valid addresses it renders
  }
  WONDERLAND_FUZZ_CHECK(check_lines(wire) <= 998);
  WONDERLAND_FUZZ_CHECK(render_message(m) == wire);  // deterministic
  return 0;
}
