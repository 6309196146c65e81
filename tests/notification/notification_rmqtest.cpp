// The notification service against the real broker and a real SMTP server: aiosmtpd, started
// by the test on a free port, saving each message it accepts to a folder.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "support.hpp"
#include "wonderland/messaging/pubsub.hpp"
#include "wonderland/messaging/rpc.hpp"
#include "wonderland/notification/server.hpp"
#include "wonderland/testing/broker.hpp"

extern char** environ;

namespace wonderland::notification {
namespace {

using namespace std::chrono_literals;
using messaging::Envelope;
using nlohmann::json;
using testing::unique_name;

messaging::ConnectionOptions options_for(const std::string& service) {
  messaging::ConnectionOptions o;
  o.url = testing::amqp_url();
  o.service = service;
  o.reconnect_min_backoff = 50ms;
  o.reconnect_max_backoff = 500ms;
  return o;
}

/// smtp_sink.py as a child process; stopped (SIGTERM) on destruction.
class SmtpSink {
 public:
  struct Options {
    int fail_first = 0;  ///< answer the first N messages with a 451
    std::string user;    ///< require AUTH with these credentials when set
    std::string password;
  };

  SmtpSink(const std::filesystem::path& dir, const Options& options)
      : received_(dir / "received"), port_file_(dir / "smtp.port") {
    std::vector<std::string> args{test::python(), test::script("smtp_sink.py"),
                                  "--dir",        received_.string(),
                                  "--port-file",  port_file_.string()};
    if (options.fail_first > 0) {
      args.insert(args.end(), {"--fail-first", std::to_string(options.fail_first)});
    }
    if (!options.user.empty())
      args.insert(args.end(), {"--user", options.user, "--password", options.password});
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawnp(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) != 0) {
      throw std::runtime_error("cannot start " + args[0] + " " + args[1]);
    }
    bool exited = false;
    const bool ready = testing::eventually(
        [&] {
          int status = 0;
          exited = ::waitpid(pid_, &status, WNOHANG) == pid_;
          return exited || std::filesystem::exists(port_file_);
        },
        30s);
    if (exited)
      pid_ = -1;
    if (!ready || exited) {
      stop();
      throw std::runtime_error("the SMTP sink did not start (is python3-aiosmtpd installed for " +
                               args[0] + "?)");
    }
    port_ = std::stoi(test::read_file(port_file_));
  }
  ~SmtpSink() { stop(); }
  SmtpSink(const SmtpSink&) = delete;
  SmtpSink& operator=(const SmtpSink&) = delete;

  int port() const { return port_; }

  /// The messages received so far, oldest first.
  std::vector<std::filesystem::path> messages() const {
    std::vector<std::filesystem::path> out;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(received_, ec)) {
      if (entry.path().extension() == ".eml")
        out.push_back(entry.path());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  /// The SMTP envelope of a received message: {mail_from, rcpt_tos}.
  static json envelope_of(const std::filesystem::path& eml) {
    auto sidecar = eml;
    return json::parse(test::read_file(sidecar.replace_extension(".json")));
  }

 private:
  void stop() {
    if (pid_ <= 0)
      return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  std::filesystem::path received_;
  std::filesystem::path port_file_;
  pid_t pid_ = -1;
  int port_ = 0;
};

class NotificationRmqTest : public ::testing::Test {
 protected:
  NotificationRmqTest()
      : server_conn_(options_for("notification")), client_conn_(options_for("notification-test")) {}

  ~NotificationRmqTest() override {
    server_.reset();
    for (const auto& q : {queue_, messaging::dead_letter_queue_for(queue_), commands_,
                          messaging::dead_letter_queue_for(commands_)}) {
      try {
        client_conn_.delete_queue(q);
      } catch (const std::exception&) {
      }
    }
  }

  void start(const SmtpSink::Options& sink_options) {
    sink_ = std::make_unique<SmtpSink>(dir_.path(), sink_options);
    Config config;
    config.db_path = (dir_.path() / "notification.db").string();
    config.exchange = exchange_;
    config.events_queue = queue_;
    config.commands_queue = commands_;
    config.max_attempts = 5;
    SmtpOptions smtp;
    smtp.host = "127.0.0.1";
    smtp.port = sink_->port();
    smtp.user = sink_options.user;
    smtp.password = sink_options.password;
    smtp.timeout = 20s;
    config.smtp = smtp;
    server_ = std::make_unique<Server>(server_conn_, config);
  }

  void publish(const Envelope& e) {
    Status s = messaging::publish_event(client_conn_, exchange_, e.type, e).get();
    ASSERT_TRUE(s.ok()) << s.error().message;
  }

  /// Waits until the sink holds `n` messages; returns them.
  std::vector<std::filesystem::path> wait_for_messages(std::size_t n) {
    EXPECT_TRUE(testing::eventually([&] { return sink_->messages().size() >= n; }, 30s))
        << "received " << sink_->messages().size() << " of " << n << " emails";
    return sink_->messages();
  }

  /// The first event dead-lettered from the events queue, waiting for it up to 20 s.
  std::optional<messaging::RawMessage> dead_lettered() {
    messaging::Connection inspector(options_for("notification-inspector"));
    std::optional<messaging::RawMessage> dead;
    testing::eventually(
        [&] {
          return (dead = inspector.get(messaging::dead_letter_queue_for(queue_))).has_value();
        },
        20s);
    return dead;
  }

  Result<Envelope> list(const json& body) {
    messaging::RpcClient rpc(client_conn_);
    return rpc
        .call(messaging::RpcRequest{commands_, Envelope::make("notification.list", body), 10s})
        .get();
  }

  test::TempDir dir_;
  messaging::ExchangeName exchange_{unique_name("notification-test.events")};
  messaging::QueueName queue_{unique_name("notification-test.events")};
  messaging::QueueName commands_{unique_name("notification-test.commands")};
  messaging::Connection server_conn_;
  messaging::Connection client_conn_;
  std::unique_ptr<SmtpSink> sink_;
  std::unique_ptr<Server> server_;
};

Envelope signed_up(const std::string& customer) {
  return Envelope::make("customer.signed_up",
                        {{"customer_id", customer},
                         {"username", "zoe"},
                         {"email", "zoe@example.com"},
                         {"first_name", "Zo\xC3\xAB"},
                         {"last_name", "Quill"}},
                        "customer");
}

Envelope confirmed(const std::string& customer, const std::string& order) {
  return Envelope::make("order.confirmed",
                        {{"order_id", order},
                         {"customer_id", customer},
                         {"email", "zoe@example.com"},
                         {"first_name", "Zo\xC3\xAB"},
                         {"last_name", "Quill"},
                         {"items", json::array({json{{"isbn", "9780141439761"},
                                                     {"title", "Alice's Adventures in Wonderland"},
                                                     {"quantity", 2},
                                                     {"unit_price_cents", 799},
                                                     {"line_total_cents", 1598}},
                                                json{{"isbn", "9780141321073"},
                                                     {"title", "Through the Looking-Glass"},
                                                     {"quantity", 1},
                                                     {"unit_price_cents", 5900},
                                                     {"line_total_cents", 5900}}})},
                         {"total_cents", 7498},
                         {"confirmed_at", now_iso8601()}},
                        "mediator");
}

Envelope failed(const std::string& customer, const std::string& order, bool with_email = true) {
  json body{{"order_id", order}, {"customer_id", customer}, {"reason", "Your card was declined"}};
  if (with_email)
    body["email"] = "zoe@example.com";
  return Envelope::make("order.failed", body, "mediator");
}

/// The received message whose summary has `subject_prefix`, and its summary.
std::pair<std::filesystem::path, json> find_by_subject(
    const std::vector<std::filesystem::path>& messages, const std::string& subject_prefix) {
  for (const auto& m : messages) {
    json s = test::summarize_eml(m);
    if (s.value("subject", "").rfind(subject_prefix, 0) == 0)
      return {m, s};
  }
  ADD_FAILURE() << "no email with a subject starting '" << subject_prefix << "'";
  return {};
}

/// The welcome email among `received`, as the customer signed up in signed_up() gets it.
void expect_welcome_email(const std::vector<std::filesystem::path>& received,
                          const std::string& customer) {
  auto [welcome_eml, welcome_summary] =
      find_by_subject(received, "Welcome to Wonderland Bookstore");
  ASSERT_FALSE(welcome_eml.empty());
  EXPECT_EQ(welcome_summary["subject"], "Welcome to Wonderland Bookstore, Zo\xC3\xAB!");
  EXPECT_EQ(welcome_summary["to"], "Zo\xC3\xAB Quill <zoe@example.com>");
  EXPECT_EQ(welcome_summary["structure"],
            json::array({"multipart/alternative", "text/plain", "text/html"}));
  EXPECT_EQ(welcome_summary["message_id"],
            "<customer.signed_up." + customer + "@wonderland.local>");
  EXPECT_EQ(welcome_summary["defects"], 0);
  const json smtp_envelope = SmtpSink::envelope_of(welcome_eml);
  EXPECT_EQ(smtp_envelope["mail_from"], "orders@wonderland.local");
  EXPECT_EQ(smtp_envelope["rcpt_tos"], json::array({"zoe@example.com"}));
}

/// The confirmation of `order` among `received`, with its PDF invoice (saved in `attachments`).
void expect_order_email(const std::vector<std::filesystem::path>& received,
                        const std::string& order, const std::filesystem::path& attachments) {
  auto [order_eml, order_summary] = find_by_subject(received, "Your Wonderland order");
  ASSERT_FALSE(order_eml.empty());
  EXPECT_EQ(order_summary["structure"],
            json::array({"multipart/mixed", "multipart/alternative", "text/plain", "text/html",
                         "application/pdf"}));
  EXPECT_EQ(order_summary["message_id"], "<order.confirmed." + order + "@wonderland.local>");
  std::filesystem::create_directories(attachments);
  const json with_pdf = test::summarize_eml(order_eml, attachments);
  ASSERT_EQ(with_pdf["attachments"].size(), 1u);
  const std::filesystem::path pdf = with_pdf["attachments"][0]["saved_as"].get<std::string>();
  EXPECT_EQ(test::read_file(pdf).rfind("%PDF-", 0), 0u);
  const std::string text = test::pdf_text(pdf);
  EXPECT_NE(text.find("Alice's Adventures in Wonderland"), std::string::npos) << text;
  EXPECT_NE(text.find("Through the Looking-Glass"), std::string::npos) << text;
  EXPECT_NE(text.find("$74.98"), std::string::npos) << text;
}

TEST_F(NotificationRmqTest, SignUpAndOrderEmailsAreDeliveredExactlyOnce) {
  // The server requires AUTH and refuses the first message with a 451: delivery must log in and
  // retry.
  start(SmtpSink::Options{1, "wonderland", "s3cret"});
  const std::string customer = new_uuid();
  const std::string order = new_uuid();
  const Envelope welcome = signed_up(customer);
  const Envelope order_confirmed = confirmed(customer, order);
  publish(welcome);
  publish(order_confirmed);
  auto received = wait_for_messages(2);
  ASSERT_EQ(received.size(), 2u);

  expect_welcome_email(received, customer);
  expect_order_email(received, order, dir_.path() / "attachments");

  // One of the two was refused once and delivered on the retry.
  const int attempts = server_->store().delivery(welcome.message_id)->attempts +
                       server_->store().delivery(order_confirmed.message_id)->attempts;
  EXPECT_EQ(attempts, 3);

  // Redeliveries (the same message ids again) send nothing. The events are consumed in order, so
  // once the marker event that follows them has been emailed, they have been handled.
  publish(order_confirmed);
  publish(welcome);
  const Envelope marker = failed(customer, new_uuid());
  publish(marker);
  received = wait_for_messages(3);
  ASSERT_TRUE(testing::eventually(
      [&] { return server_->store().delivery(marker.message_id).has_value(); }, 10s));
  EXPECT_EQ(sink_->messages().size(), 3u);
  EXPECT_EQ(test::summarize_eml(sink_->messages().back())["subject"].get<std::string>().rfind(
                "We could not complete", 0),
            0u);

  // The customer's history, newest first, over RPC.
  ASSERT_TRUE(
      testing::eventually([&] { return server_->store().list(customer, 10).size() == 3; }, 10s));
  Result<Envelope> reply = list({{"customer_id", customer}});
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  const json& items = reply->body["notifications"];
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0]["kind"], "order_failed");
  EXPECT_NE(items[0]["body"].get<std::string>().find("Your card was declined"), std::string::npos);
  std::vector<std::string> kinds{items[1]["kind"], items[2]["kind"]};
  std::sort(kinds.begin(), kinds.end());
  EXPECT_EQ(kinds, (std::vector<std::string>{"order_confirmed", "welcome"}));
}

TEST_F(NotificationRmqTest, PoisonEventIsDeadLetteredAndLaterEventsAreStillDelivered) {
  start(SmtpSink::Options{});
  const std::string customer = new_uuid();
  const Envelope poison = failed(customer, new_uuid(), /*with_email=*/false);
  publish(poison);

  std::optional<messaging::RawMessage> dead = dead_lettered();
  ASSERT_TRUE(dead) << "nothing was dead-lettered";
  EXPECT_EQ(dead->message_id, poison.message_id);
  const std::string reason = dead->string_headers["x-wonderland-reason"];
  EXPECT_NE(reason.find("rejected by the handler"), std::string::npos) << reason;
  EXPECT_NE(reason.find("'email' is missing"), std::string::npos) << reason;
  EXPECT_EQ(dead->string_headers["x-wonderland-queue"], queue_.str());
  EXPECT_EQ(Envelope::parse(dead->body).message_id, poison.message_id);

  const Envelope good = failed(customer, new_uuid());
  publish(good);
  auto received = wait_for_messages(1);
  ASSERT_EQ(received.size(), 1u);
  const json s = test::summarize_eml(received[0]);
  EXPECT_NE(s["text"].get<std::string>().find("Reason: Your card was declined"), std::string::npos);
  EXPECT_EQ(SmtpSink::envelope_of(received[0])["rcpt_tos"], json::array({"zoe@example.com"}));

  Result<Envelope> bad = list({{"customer_id", "not-a-uuid"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, codes::kInvalidArgument);
}

/// A return.* event as the return workflow publishes it.
Envelope return_event(const std::string& type, const std::string& customer,
                      const std::string& return_id, const std::string& order) {
  json body{{"return_id", return_id},     {"order_id", order},          {"customer_id", customer},
            {"email", "zoe@example.com"}, {"first_name", "Zo\xC3\xAB"}, {"last_name", "Quill"}};
  if (type != "return.expired") {
    body["lines"] = json::array({json{{"isbn", "9780141321073"},
                                      {"title", "Through the Looking-Glass"},
                                      {"quantity", 1},
                                      {"unit_price_cents", 5900},
                                      {"refund_cents", 5900}}});
    body["refund_cents"] = 5900;
  }
  if (type != "return.refunded")
    body["parcel_deadline"] = "2026-12-17T09:00:00Z";
  return Envelope::make(type, body, "mediator");
}

TEST_F(NotificationRmqTest, ReturnEmailsAreDeliveredOnceEachAndABadOneIsDeadLettered) {
  start(SmtpSink::Options{});
  const std::string customer = new_uuid();
  const std::string order = new_uuid();
  const std::string kept = new_uuid();     // requested, then refunded
  const std::string expired = new_uuid();  // requested, then expired
  Envelope poison = return_event("return.refunded", customer, new_uuid(), order);
  poison.body["lines"][0].erase("isbn");
  publish(poison);
  const Envelope refunded = return_event("return.refunded", customer, kept, order);
  for (const Envelope& e : {return_event("return.requested", customer, kept, order), refunded,
                            refunded, return_event("return.requested", customer, expired, order),
                            return_event("return.expired", customer, expired, order)})
    publish(e);

  std::optional<messaging::RawMessage> dead = dead_lettered();
  ASSERT_TRUE(dead) << "nothing was dead-lettered";
  EXPECT_EQ(dead->message_id, poison.message_id);
  const std::string reason = dead->string_headers["x-wonderland-reason"];
  EXPECT_NE(reason.find("lines[0].isbn' is missing"), std::string::npos) << reason;

  auto received = wait_for_messages(4);
  ASSERT_TRUE(
      testing::eventually([&] { return server_->store().list(customer, 10).size() == 4; }, 10s));
  EXPECT_EQ(sink_->messages().size(), 4u);  // the refunded event sent twice: one email
  auto [credit_eml, credit_summary] = find_by_subject(received, "We refunded $59.00");
  ASSERT_FALSE(credit_eml.empty());
  EXPECT_EQ(credit_summary["message_id"], "<return.refunded." + kept + "@wonderland.local>");
  const auto attachments = dir_.path() / "attachments";
  std::filesystem::create_directories(attachments);
  const json with_pdf = test::summarize_eml(credit_eml, attachments);
  ASSERT_EQ(with_pdf["attachments"].size(), 1u);
  EXPECT_EQ(with_pdf["attachments"][0]["filename"], "credit-note-" + kept + ".pdf");
  const std::string text =
      test::pdf_text(with_pdf["attachments"][0]["saved_as"].get<std::string>());
  EXPECT_NE(text.find(kept), std::string::npos) << text;
  EXPECT_NE(text.find("Through the Looking-Glass"), std::string::npos) << text;
  auto [closed_eml, closed_summary] =
      find_by_subject(received, "Your Wonderland return " + expired.substr(0, 8) + " is closed");
  ASSERT_FALSE(closed_eml.empty());
  EXPECT_NE(closed_summary["text"].get<std::string>().find("by 2026-12-17 09:00 UTC"),
            std::string::npos);
}

}  // namespace
}  // namespace wonderland::notification
