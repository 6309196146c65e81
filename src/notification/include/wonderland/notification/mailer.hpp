// Where rendered emails go: an SMTP server (libcurl), or `.eml` files in an outbox folder.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

namespace wonderland::notification {

/// One rendered message ready to hand over.
struct OutgoingMail {
  std::string envelope_from;  ///< SMTP MAIL FROM address
  std::string recipient;      ///< SMTP RCPT TO address
  std::string message_id;     ///< the Message-ID, without angle brackets
  /// A file-name-safe name stable for this notification (e.g. `order.confirmed.<order id>`):
  /// the outbox writes `<file_stem>.eml`, so a resend replaces rather than duplicates.
  std::string file_stem;
  std::string data;  ///< the whole message, CRLF line endings
};

/// A delivery that did not succeed. `permanent()` when trying again cannot help (the server
/// rejected the message or recipient with a 5xx reply).
class DeliveryError : public std::runtime_error {
 public:
  DeliveryError(const std::string& what, bool permanent)
      : std::runtime_error(what), permanent_(permanent) {}
  bool permanent() const noexcept { return permanent_; }

 private:
  bool permanent_;
};

/// Hands messages over for delivery. Implementations are used from one thread at a time.
class Mailer {
 public:
  virtual ~Mailer() = default;
  /// Returns once the message is accepted (by the SMTP server, or written to disk); throws
  /// DeliveryError otherwise.
  virtual void send(const OutgoingMail& mail) = 0;
  /// Where messages go, for the log (never a password).
  virtual std::string describe() const = 0;
};

/// Writes each message to `<dir>/<file_stem>.eml` (written to a temporary file first, then
/// renamed, so a reader never sees half a message). Creates `dir` when missing.
class OutboxMailer : public Mailer {
 public:
  explicit OutboxMailer(std::filesystem::path dir);
  void send(const OutgoingMail& mail) override;
  std::string describe() const override;
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

struct SmtpOptions {
  std::string host;
  int port = 25;
  std::string user;  ///< AUTH user; no authentication when empty
  std::string password;
  bool starttls = false;  ///< require STARTTLS (the server's certificate is verified)
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds timeout{60000};      ///< the whole transaction
  std::string helo_domain = "wonderland.local";  ///< the name given in EHLO
};

/// Sends through an SMTP server with libcurl: one connection per message. A transport failure
/// or a 4xx reply is a retryable DeliveryError; a 5xx reply (rejected sender, recipient or
/// message) a permanent one. The libcurl handles live and die inside `send`.
class SmtpMailer : public Mailer {
 public:
  explicit SmtpMailer(SmtpOptions options);
  void send(const OutgoingMail& mail) override;
  std::string describe() const override;

 private:
  SmtpOptions options_;
};

}  // namespace wonderland::notification
