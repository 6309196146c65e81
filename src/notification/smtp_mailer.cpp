#include <curl/curl.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string_view>

#include "wonderland/notification/mailer.hpp"

namespace wonderland::notification {
namespace {

void global_init() {
  // curl_global_init is not thread-safe; a function-local static runs it exactly once.
  static const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (rc != CURLE_OK)
    throw DeliveryError(std::string("libcurl initialisation failed: ") + curl_easy_strerror(rc),
                        false);
}

struct EasyDeleter {
  void operator()(CURL* handle) const noexcept { curl_easy_cleanup(handle); }
};
struct ListDeleter {
  void operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }
};

/// The message being uploaded, read by libcurl in pieces.
struct Upload {
  std::string_view data;
  std::size_t offset = 0;
};

std::size_t read_upload(char* buffer, std::size_t size, std::size_t count, void* user) noexcept {
  auto* upload = static_cast<Upload*>(user);
  const std::size_t n = std::min(size * count, upload->data.size() - upload->offset);
  std::copy_n(upload->data.data() + upload->offset, n, buffer);
  upload->offset += n;
  return n;
}

/// One SMTP transaction: the libcurl easy handle and recipient list it needs, freed on
/// destruction. Nothing of libcurl escapes this class.
class SmtpTransaction {
 public:
  SmtpTransaction() : handle_(curl_easy_init()) {
    if (!handle_)
      throw DeliveryError("libcurl could not create a handle", false);
    set(CURLOPT_ERRORBUFFER, error_);
    set(CURLOPT_NOSIGNAL, 1L);
  }

  template <class T>
  void set(CURLoption option, T value) {
    const CURLcode rc = curl_easy_setopt(handle_.get(), option, value);
    if (rc != CURLE_OK)
      throw DeliveryError(std::string("libcurl refused an option: ") + curl_easy_strerror(rc),
                          true);
  }

  void add_recipient(const std::string& address) {
    curl_slist* extended = curl_slist_append(recipients_.get(), ("<" + address + ">").c_str());
    if (extended == nullptr)
      throw DeliveryError("libcurl: out of memory", false);
    (void)recipients_.release();
    recipients_.reset(extended);
    set(CURLOPT_MAIL_RCPT, recipients_.get());
  }

  /// Runs the transaction; throws DeliveryError describing the failure.
  void perform(const std::string& what) {
    const CURLcode rc = curl_easy_perform(handle_.get());
    if (rc == CURLE_OK)
      return;
    long reply = 0;
    curl_easy_getinfo(handle_.get(), CURLINFO_RESPONSE_CODE, &reply);
    std::string message =
        what + " failed: " + (error_[0] != '\0' ? std::string(error_) : curl_easy_strerror(rc));
    if (reply != 0)
      message += " (last SMTP reply " + std::to_string(reply) + ")";
    throw DeliveryError(message, reply >= 500 && reply < 600);
  }

 private:
  std::unique_ptr<CURL, EasyDeleter> handle_;
  std::unique_ptr<curl_slist, ListDeleter> recipients_;
  char error_[CURL_ERROR_SIZE] = {};
};

std::string url_host(const std::string& host) {
  return host.find(':') != std::string::npos && host.front() != '[' ? "[" + host + "]" : host;
}

}  // namespace

SmtpMailer::SmtpMailer(SmtpOptions options) : options_(std::move(options)) {
  if (options_.host.empty())
    throw std::invalid_argument("SMTP host is empty");
  if (options_.port < 1 || options_.port > 65535)
    throw std::invalid_argument("SMTP port must be 1-65535");
  global_init();
}

void SmtpMailer::send(const OutgoingMail& mail) {
  SmtpTransaction t;
  Upload upload{mail.data, 0};
  const std::string url = "smtp://" + url_host(options_.host) + ":" +
                          std::to_string(options_.port) + "/" + options_.helo_domain;
  const std::string from = "<" + mail.envelope_from + ">";
  t.set(CURLOPT_URL, url.c_str());
  t.set(CURLOPT_MAIL_FROM, from.c_str());
  t.add_recipient(mail.recipient);
  t.set(CURLOPT_UPLOAD, 1L);
  t.set(CURLOPT_READFUNCTION, &read_upload);
  t.set(CURLOPT_READDATA, &upload);
  t.set(CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(mail.data.size()));
  t.set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
  t.set(CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  if (options_.starttls)
    t.set(CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
  if (!options_.user.empty()) {
    t.set(CURLOPT_USERNAME, options_.user.c_str());
    t.set(CURLOPT_PASSWORD, options_.password.c_str());
  }
  t.perform("SMTP delivery of " + mail.message_id + " to " + mail.recipient + " via " +
            options_.host + ":" + std::to_string(options_.port));
}

std::string SmtpMailer::describe() const {
  std::string d = "SMTP server " + options_.host + ":" + std::to_string(options_.port);
  if (options_.starttls)
    d += " (STARTTLS)";
  if (!options_.user.empty())
    d += " as " + options_.user;
  return d;
}

}  // namespace wonderland::notification
