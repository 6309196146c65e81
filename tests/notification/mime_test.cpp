// Text helpers and MIME rendering: money, escaping, UTF-8, base64, quoted-printable, RFC 2047
// headers and the multipart structure.
#include "wonderland/notification/mime.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <sstream>
#include <vector>

#include "wonderland/notification/text.hpp"

namespace wonderland::notification {
namespace {

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (true) {
    auto end = s.find("\r\n", start);
    lines.push_back(s.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos)
      break;
    start = end + 2;
  }
  return lines;
}

std::string unbase64(const std::string& in) {
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    auto pos = kAlphabet.find(c);
    if (pos == std::string::npos)
      continue;
    acc = (acc << 6) | static_cast<std::uint32_t>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

std::string unquote_printable(const std::string& in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '=' && in.compare(i + 1, 2, "\r\n") == 0) {
      i += 2;
    } else if (in[i] == '=') {
      out.push_back(static_cast<char>(std::stoi(in.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else if (in.compare(i, 2, "\r\n") == 0) {
      out.push_back('\n');
      ++i;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

/// Decodes a header value made of encoded words (and folding whitespace).
std::string decode_words(const std::string& value) {
  std::string out;
  std::size_t pos = 0;
  while ((pos = value.find("=?UTF-8?B?", pos)) != std::string::npos) {
    auto end = value.find("?=", pos + 10);
    out += unbase64(value.substr(pos + 10, end - pos - 10));
    pos = end + 2;
  }
  return out;
}

TEST(Money, FormatsCentsAsDollarsWithSeparators) {
  EXPECT_EQ(format_money(0), "$0.00");
  EXPECT_EQ(format_money(5), "$0.05");
  EXPECT_EQ(format_money(5900), "$59.00");
  EXPECT_EQ(format_money(123456), "$1,234.56");
  EXPECT_EQ(format_money(100000000), "$1,000,000.00");
  EXPECT_EQ(format_money(-1999), "-$19.99");
  EXPECT_EQ(format_money(INT64_MIN), "-$92,233,720,368,547,758.08");
}

TEST(Text, EscapesHtml) {
  EXPECT_EQ(html_escape("<b>\"Tom\" & 'Jerry'</b>"),
            "&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt;");
}

TEST(Text, SingleLineReplacesControlsAndInvalidBytes) {
  EXPECT_EQ(single_line("  Hi\r\nBcc: x\t "), "Hi  Bcc: x");
  EXPECT_EQ(single_line("a\xFF"
                        "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(single_line("\xC3"), "\xEF\xBF\xBD");                                  // truncated
  EXPECT_EQ(single_line("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong
  EXPECT_EQ(single_line("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(single_line("Zo\xC3\xAB \xF0\x9F\x93\x9A"), "Zo\xC3\xAB \xF0\x9F\x93\x9A");
}

TEST(Text, CleanTextKeepsLineBreaks) {
  EXPECT_EQ(clean_text("one\r\ntwo\rthree\n\x01"
                       "four\tfive"),
            "one\ntwo\nthree\nfour\tfive");
}

TEST(Text, WinAnsiKeepsLatin1AndTransliteratesTheRest) {
  EXPECT_EQ(to_win_ansi("Caf\xC3\xA9"), "Caf\xE9");
  EXPECT_EQ(to_win_ansi("\xE2\x80\x9CQuoted\xE2\x80\x9D \xE2\x80\x93 \xE2\x82\xAC"
                        "5"),
            "\x93Quoted\x94 \x96 \x80"
            "5");
  EXPECT_EQ(to_win_ansi("\xC5\x81\xC3\xB3\x64\xC5\xBA"),
            "L\xF3"
            "dz");                                           // Łódź
  EXPECT_EQ(to_win_ansi("\xE6\x9D\xB1\xE4\xBA\xAC"), "??");  // 東京
  EXPECT_EQ(to_win_ansi("a\nb"), "a b");
}

TEST(Base64, MatchesRfc4648Vectors) {
  EXPECT_EQ(base64("", 0), "");
  EXPECT_EQ(base64("f", 0), "Zg==");
  EXPECT_EQ(base64("fo", 0), "Zm8=");
  EXPECT_EQ(base64("foo", 0), "Zm9v");
  EXPECT_EQ(base64("foob", 0), "Zm9vYg==");
  EXPECT_EQ(base64("fooba", 0), "Zm9vYmE=");
  EXPECT_EQ(base64("foobar", 0), "Zm9vYmFy");
}

TEST(Base64, WrapsLinesAndRoundTripsBinary) {
  std::string data;
  for (int i = 0; i < 1000; ++i)
    data.push_back(static_cast<char>(i * 7));
  const std::string encoded = base64(data);
  for (const auto& line : split_lines(encoded))
    EXPECT_LE(line.size(), 76u);
  EXPECT_EQ(split_lines(encoded).front().size(), 76u);
  EXPECT_EQ(unbase64(encoded), data);
  EXPECT_THROW(base64("x", 75), std::invalid_argument);
}

TEST(QuotedPrintable, EscapesWhatMustBeEscaped) {
  EXPECT_EQ(quoted_printable("a=b"), "a=3Db");
  EXPECT_EQ(quoted_printable("Zo\xC3\xAB"), "Zo=C3=AB");
  EXPECT_EQ(quoted_printable("end \nnext\t"), "end=20\r\nnext=09");
  EXPECT_EQ(quoted_printable(".\n.x"), "=2E\r\n=2Ex");
  EXPECT_EQ(quoted_printable("a\r\nb"), "a\r\nb");
}

TEST(QuotedPrintable, SoftBreaksLongLinesAndRoundTrips) {
  std::string text =
      std::string(200, 'x') + "\n" + std::string(100, '=') + " \xC3\xA9\xC3\xA9 .tail\n\nlast";
  const std::string encoded = quoted_printable(text);
  for (const auto& line : split_lines(encoded)) {
    EXPECT_LE(line.size(), 76u) << line;
    for (char c : line)
      EXPECT_TRUE(c >= 0x20 && c < 0x7F) << line;
  }
  EXPECT_EQ(unquote_printable(encoded), text);
}

TEST(HeaderEncoding, PlainAsciiStaysReadable) {
  EXPECT_EQ(encode_header_text("Your order is confirmed", 9), "Your order is confirmed");
}

TEST(HeaderEncoding, LongAsciiIsFoldedAtSpaces) {
  std::string subject;
  for (int i = 0; i < 20; ++i)
    subject += "word" + std::to_string(i) + " ";
  subject += "end";
  const std::string value = encode_header_text(subject, 9);
  auto lines = split_lines("Subject: " + value);
  EXPECT_GT(lines.size(), 1u);
  for (const auto& line : lines)
    EXPECT_LE(line.size(), 78u);
  std::string unfolded = value;
  for (auto pos = unfolded.find("\r\n"); pos != std::string::npos; pos = unfolded.find("\r\n"))
    unfolded.erase(pos, 2);
  EXPECT_EQ(unfolded, subject);
}

TEST(HeaderEncoding, AWordTooLongToFoldIsEncoded) {
  // No space to fold at: plain text would overrun 78 characters, encoded words do not.
  const std::string subject = "order." + std::string(100, 'E') + "@wonderland.local";
  const std::string value = encode_header_text(subject, 9);
  for (const auto& line : split_lines("Subject: " + value))
    EXPECT_LE(line.size(), 78u) << line;
  EXPECT_EQ(decode_words(value), subject);
}

TEST(HeaderEncoding, NonAsciiBecomesRfc2047EncodedWords) {
  EXPECT_EQ(encode_header_text("Gr\xC3\xBC\xC3\x9F"
                               "e",
                               9),
            "=?UTF-8?B?R3LDvMOfZQ==?=");
  // Long and multi-byte: every encoded word is at most 75 characters, every line at most 78,
  // each word holds whole characters, and together they decode to the text.
  std::string text;
  for (int i = 0; i < 30; ++i)
    text += "Zo\xC3\xAB \xE2\x80\x94 \xF0\x9F\x93\x9A ";
  text = single_line(text);
  const std::string value = encode_header_text(text, 9);
  for (const auto& line : split_lines("Subject: " + value))
    EXPECT_LE(line.size(), 78u) << line;
  std::size_t pos = 0;
  while ((pos = value.find("=?UTF-8?B?", pos)) != std::string::npos) {
    const auto end = value.find("?=", pos + 10);
    ASSERT_NE(end, std::string::npos);
    EXPECT_LE(end + 2 - pos, 75u);
    const std::string word = unbase64(value.substr(pos + 10, end - pos - 10));
    EXPECT_EQ(clean_text(word), word) << "a word splits a character";
    pos = end + 2;
  }
  EXPECT_EQ(decode_words(value), text);
}

TEST(HeaderEncoding, LineBreaksCannotInjectHeaders) {
  const std::string value = encode_header_text("Hello\r\nBcc: victim@example.com", 9);
  EXPECT_EQ(value, "Hello  Bcc: victim@example.com");
  const std::string encoded = encode_header_text("H\xC3\xA9llo\r\nBcc: victim@example.com", 9);
  for (std::size_t p = encoded.find("\r\n"); p != std::string::npos;
       p = encoded.find("\r\n", p + 2)) {
    EXPECT_EQ(encoded[p + 2], ' ');
  }
}

TEST(HeaderEncoding, LiteralEncodedWordSyntaxIsEncoded) {
  const std::string value = encode_header_text("=?UTF-8?B?trick?=", 9);
  EXPECT_EQ(decode_words(value), "=?UTF-8?B?trick?=");
}

TEST(Mailbox, ParsesAndFormats) {
  EXPECT_EQ(parse_mailbox("Wonderland Bookstore <orders@wonderland.local>"),
            (Mailbox{"Wonderland Bookstore", "orders@wonderland.local"}));
  EXPECT_EQ(parse_mailbox(" \"Shop, Inc.\" <a@b.c> "), (Mailbox{"Shop, Inc.", "a@b.c"}));
  EXPECT_EQ(parse_mailbox("a@b.c"), (Mailbox{"", "a@b.c"}));
  EXPECT_THROW(parse_mailbox("Nobody <not-an-address>"), std::invalid_argument);
  EXPECT_EQ(format_mailbox({"Alice Liddell", "alice@example.com"}),
            "Alice Liddell <alice@example.com>");
  EXPECT_EQ(format_mailbox({"", "alice@example.com"}), "alice@example.com");
  EXPECT_EQ(format_mailbox({"Liddell, \"Alice\"", "a@b.c"}), "\"Liddell, \\\"Alice\\\"\" <a@b.c>");
  EXPECT_EQ(format_mailbox({"Zo\xC3\xAB Quill", "zoe@example.com"}),
            "=?UTF-8?B?Wm/DqyBRdWlsbA==?= <zoe@example.com>");
  EXPECT_THROW(format_mailbox({"X", "x@y\r\nBcc: z@w"}), std::invalid_argument);
}

TEST(Mailbox, ValidatesAddresses) {
  EXPECT_TRUE(is_valid_address("alice+books@example.co.uk"));
  EXPECT_FALSE(is_valid_address(""));
  EXPECT_FALSE(is_valid_address("alice"));
  EXPECT_FALSE(is_valid_address("@example.com"));
  EXPECT_FALSE(is_valid_address("alice@"));
  EXPECT_FALSE(is_valid_address("a@b@c"));
  EXPECT_FALSE(is_valid_address("a b@c.d"));
  EXPECT_FALSE(is_valid_address("a@b.c>"));
  EXPECT_FALSE(is_valid_address("z\xC3\xB6@b.c"));
  EXPECT_FALSE(is_valid_address(std::string(250, 'a') + "@b.cd"));
}

TEST(Date, IsRfc5322InUtc) {
  const auto t = parse_iso8601("2026-11-26T09:26:12.345Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(rfc5322_date(*t), "Thu, 26 Nov 2026 09:26:12 +0000");
  EXPECT_EQ(rfc5322_date(*parse_iso8601("2024-02-29T23:59:59Z")),
            "Thu, 29 Feb 2024 23:59:59 +0000");
}

EmailMessage sample() {
  EmailMessage m;
  m.from = {"Wonderland Bookstore", "orders@wonderland.local"};
  m.to = {"Zo\xC3\xAB Quill", "zoe@example.com"};
  m.subject = "Caf\xC3\xA9 order";
  m.date = *parse_iso8601("2026-11-26T09:26:12Z");
  m.message_id = "order.confirmed.42@wonderland.local";
  m.text = "Hello Zo\xC3\xAB\n";
  m.html = "<p>Hello Zo\xC3\xAB</p>\n";
  m.extra_headers = {{"Auto-Submitted", "auto-generated"}};
  return m;
}

TEST(Message, AlternativeOnlyWithoutAttachments) {
  const std::string wire = render_message(sample());
  const auto head = wire.substr(0, wire.find("\r\n\r\n"));
  EXPECT_NE(head.find("From: Wonderland Bookstore <orders@wonderland.local>\r\n"),
            std::string::npos);
  EXPECT_NE(head.find("To: =?UTF-8?B?Wm/DqyBRdWlsbA==?= <zoe@example.com>\r\n"), std::string::npos);
  EXPECT_NE(head.find("Subject: =?UTF-8?B?Q2Fmw6kgb3JkZXI=?=\r\n"), std::string::npos);
  EXPECT_NE(head.find("Date: Thu, 26 Nov 2026 09:26:12 +0000\r\n"), std::string::npos);
  EXPECT_NE(head.find("Message-ID: <order.confirmed.42@wonderland.local>\r\n"), std::string::npos);
  EXPECT_NE(head.find("MIME-Version: 1.0\r\n"), std::string::npos);
  EXPECT_NE(head.find("Auto-Submitted: auto-generated\r\n"), std::string::npos);
  EXPECT_NE(head.find("Content-Type: multipart/alternative; boundary="), std::string::npos);
  EXPECT_EQ(wire.find("multipart/mixed"), std::string::npos);
  const auto plain = wire.find(
      "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable");
  const auto html = wire.find(
      "Content-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable");
  ASSERT_NE(plain, std::string::npos);
  ASSERT_NE(html, std::string::npos);
  EXPECT_LT(plain, html);  // the preferred alternative comes last
  EXPECT_NE(wire.find("Hello Zo=C3=AB"), std::string::npos);
}

TEST(Message, MixedWithAttachmentsIsSevenBitAndDeterministic) {
  EmailMessage m = sample();
  std::string pdf = "%PDF-1.3\n";
  for (int i = 0; i < 500; ++i)
    pdf.push_back(static_cast<char>(i));
  m.attachments.push_back({"invoice 1/2.pdf", "application/pdf", pdf});
  const std::string wire = render_message(m);
  EXPECT_EQ(wire, render_message(m));
  EXPECT_NE(wire.find("Content-Type: multipart/mixed; boundary=\"=_wl_"), std::string::npos);
  EXPECT_NE(wire.find("Content-Type: multipart/alternative; boundary=\"=_wl_"), std::string::npos);
  EXPECT_NE(wire.find("Content-Type: application/pdf;\r\n name=\"invoice_1_2.pdf\"\r\n"
                      "Content-Disposition: attachment;\r\n filename=\"invoice_1_2.pdf\"\r\n"
                      "Content-Transfer-Encoding: base64\r\n\r\n" +
                      base64(pdf).substr(0, 76)),
            std::string::npos);
  for (const auto& line : split_lines(wire)) {
    EXPECT_LE(line.size(), 78u) << line;
    for (char c : line)
      ASSERT_TRUE(c >= 0x20 && c < 0x7F) << line;
  }
  EXPECT_EQ(wire.substr(wire.size() - 2), "\r\n");
}

TEST(Message, RefusesMalformedIdsAndHeaders) {
  EmailMessage m = sample();
  m.message_id = "no-at-sign";
  EXPECT_THROW(render_message(m), std::invalid_argument);
  m = sample();
  m.extra_headers = {{"X-Bad", "line\r\nBcc: x@y.z"}};
  EXPECT_THROW(render_message(m), std::invalid_argument);
  m = sample();
  m.attachments.push_back({"a.pdf", "application/pdf\r\nX: y", "x"});
  EXPECT_THROW(render_message(m), std::invalid_argument);
}

}  // namespace
}  // namespace wonderland::notification
