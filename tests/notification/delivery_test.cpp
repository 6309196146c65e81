// Delivery: the deduplication record, the Notifier's handling of each outcome, the outbox's
// .eml files (parsed back with Python's email package) and the notification.list command.
#include <gtest/gtest.h>

#include <vector>

#include "support.hpp"
#include "wonderland/messaging/consumer.hpp"
#include "wonderland/notification/notifier.hpp"
#include "wonderland/notification/server.hpp"
#include "wonderland/notification/store.hpp"

namespace wonderland::notification {
namespace {

using messaging::Envelope;
using nlohmann::json;

class FakeMailer : public Mailer {
 public:
  void send(const OutgoingMail& mail) override {
    if (fail_next > 0) {
      --fail_next;
      throw DeliveryError("451 try again later", false);
    }
    if (reject)
      throw DeliveryError("550 no such mailbox", true);
    sent.push_back(mail);
  }
  std::string describe() const override { return "fake"; }
  std::vector<OutgoingMail> sent;
  int fail_next = 0;
  bool reject = false;
};

Envelope signed_up(const std::string& customer, const std::string& email = "zoe@example.com") {
  return Envelope::make("customer.signed_up", {{"customer_id", customer},
                                               {"username", "zoe"},
                                               {"email", email},
                                               {"first_name", "Zo\xC3\xAB"},
                                               {"last_name", "Quill"}});
}

Envelope confirmed(const std::string& customer, const std::string& order) {
  Envelope e = Envelope::make(
      "order.confirmed", {{"order_id", order},
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
                          {"confirmed_at", "2026-11-26T09:26:10.000Z"}});
  e.timestamp = "2026-11-26T09:26:12.345Z";
  return e;
}

DeliveryKeys keys(const std::string& message_id, const std::string& event_key,
                  const std::string& idem = "") {
  return DeliveryKeys{message_id, idem, event_key, "order.confirmed"};
}

NotificationRecord record(const std::string& customer, const std::string& subject) {
  NotificationRecord r;
  r.customer_id = customer;
  r.kind = "order_confirmed";
  r.subject = subject;
  r.order_id = "o-1";
  r.email = "zoe@example.com";
  r.body = "body of " + subject;
  r.event_message_id = new_uuid();
  return r;
}

class DeliveryTest : public ::testing::Test {
 protected:
  std::string db_path() const { return (dir_.path() / "notification.db").string(); }
  test::TempDir dir_;
};

TEST_F(DeliveryTest, ClaimDeduplicatesByMessageIdIdempotencyKeyAndEventKey) {
  Store store(db_path());
  Claim first = store.claim(keys("m1", "order.confirmed:o-1", "k1"), InterruptedPolicy::kResend);
  EXPECT_EQ(first.decision, Decision::kSend);
  EXPECT_EQ(first.attempts, 1);
  EXPECT_EQ(store.delivery("m1")->status, "sending");
  store.mark_sent(first.delivery_id, record(new_uuid(), "s"));
  EXPECT_EQ(store.delivery("m1")->status, "sent");
  EXPECT_EQ(store.claim(keys("m1", "order.confirmed:o-1"), InterruptedPolicy::kResend).decision,
            Decision::kAlreadySent);
  EXPECT_EQ(store.claim(keys("m2", "order.confirmed:o-1"), InterruptedPolicy::kResend).decision,
            Decision::kAlreadySent);
  EXPECT_EQ(
      store.claim(keys("m3", "order.confirmed:o-3", "k1"), InterruptedPolicy::kResend).decision,
      Decision::kAlreadySent);
  EXPECT_EQ(
      store.claim(keys("m4", "order.confirmed:o-4", "k4"), InterruptedPolicy::kResend).decision,
      Decision::kSend);
  EXPECT_FALSE(store.delivery("m2"));
}

TEST_F(DeliveryTest, AFailedSendIsSentAgainAndAnInterruptedOneFollowsThePolicy) {
  {
    Store store(db_path());
    Claim c = store.claim(keys("m1", "order.confirmed:o-1"), InterruptedPolicy::kResend);
    store.mark_failed(c.delivery_id, "451 later");
    EXPECT_EQ(store.delivery("m1")->last_error, "451 later");
    Claim again = store.claim(keys("m1", "order.confirmed:o-1"), InterruptedPolicy::kResend);
    EXPECT_EQ(again.decision, Decision::kSend);
    EXPECT_EQ(again.attempts, 2);
    store.claim(keys("m2", "order.confirmed:o-2"), InterruptedPolicy::kResend);
    // The process "dies" here: both deliveries stay 'sending'.
  }
  Store reopened(db_path());
  Claim resend = reopened.claim(keys("m1", "order.confirmed:o-1"), InterruptedPolicy::kResend);
  EXPECT_EQ(resend.decision, Decision::kResend);
  EXPECT_EQ(resend.attempts, 3);
  Claim skip = reopened.claim(keys("m2", "order.confirmed:o-2"), InterruptedPolicy::kSkip);
  EXPECT_EQ(skip.decision, Decision::kRecordOnly);
  EXPECT_EQ(reopened.delivery("m2")->status, "sending");
}

TEST_F(DeliveryTest, HistoryIsPerCustomerNewestFirstAndRecordedOnce) {
  Store store(db_path());
  const std::string zoe = new_uuid();
  const std::string other = new_uuid();
  for (int i = 0; i < 3; ++i) {
    Claim c = store.claim(keys("m" + std::to_string(i), "order.confirmed:o-" + std::to_string(i)),
                          InterruptedPolicy::kResend);
    NotificationRecord r = record(zoe, "subject " + std::to_string(i));
    r.created_at = "2026-11-26T09:00:0" + std::to_string(i) + ".000Z";
    store.mark_sent(c.delivery_id, r);
    store.mark_sent(c.delivery_id, r);  // a repeat adds nothing
  }
  Claim c = store.claim(keys("x", "order.confirmed:x"), InterruptedPolicy::kResend);
  store.mark_sent(c.delivery_id, record(other, "not zoe's"));
  auto list = store.list(zoe, 50);
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].subject, "subject 2");
  EXPECT_EQ(list[2].subject, "subject 0");
  EXPECT_TRUE(is_uuid(list[0].notification_id));
  EXPECT_EQ(list[0].body, "body of subject 2");
  EXPECT_EQ(store.list(zoe, 2).size(), 2u);
  EXPECT_TRUE(store.list(new_uuid(), 50).empty());
}

TEST_F(DeliveryTest, ContactsKeepKnownNames) {
  Store store(db_path());
  const std::string id = new_uuid();
  store.remember_contact({id, "old@example.com", "Zo\xC3\xAB", "Quill"});
  store.remember_contact({id, "new@example.com", "", ""});
  auto c = store.contact(id);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->email, "new@example.com");
  EXPECT_EQ(c->first_name, "Zo\xC3\xAB");
  EXPECT_FALSE(store.contact(new_uuid()));
}

class NotifierTest : public DeliveryTest {
 protected:
  NotifierTest() : store_(db_path()), notifier_(store_, mailer_, NotifierOptions{}) {}
  Store store_;
  FakeMailer mailer_;
  Notifier notifier_;
};

TEST_F(NotifierTest, SendsOnceAndIgnoresRedeliveries) {
  const Envelope e = signed_up(new_uuid());
  EXPECT_EQ(notifier_.handle(e), Outcome::kSent);
  EXPECT_EQ(notifier_.handle(e), Outcome::kDuplicate);
  ASSERT_EQ(mailer_.sent.size(), 1u);
  const OutgoingMail& mail = mailer_.sent[0];
  EXPECT_EQ(mail.recipient, "zoe@example.com");
  EXPECT_EQ(mail.envelope_from, "orders@wonderland.local");
  EXPECT_EQ(mail.message_id,
            "customer.signed_up." + e.body["customer_id"].get<std::string>() + "@wonderland.local");
  EXPECT_NE(mail.data.find("\r\nMessage-ID: <" + mail.message_id + ">\r\n"), std::string::npos);
  // The same customer signing up "again" under another message id is the same notification.
  Envelope republished = e;
  republished.message_id = new_uuid();
  EXPECT_EQ(notifier_.handle(republished), Outcome::kDuplicate);
  EXPECT_EQ(mailer_.sent.size(), 1u);
  auto list = store_.list(e.body["customer_id"], 50);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].kind, "welcome");
}

TEST_F(NotifierTest, TransientFailuresAreRetriedAndPermanentOnesArePoison) {
  const Envelope e = signed_up(new_uuid());
  mailer_.fail_next = 1;
  EXPECT_THROW(notifier_.handle(e), DeliveryError);
  EXPECT_EQ(store_.delivery(e.message_id)->status, "failed");
  EXPECT_EQ(notifier_.handle(e), Outcome::kSent);
  EXPECT_EQ(store_.delivery(e.message_id)->attempts, 2);
  EXPECT_EQ(mailer_.sent.size(), 1u);

  mailer_.reject = true;
  const Envelope rejected = signed_up(new_uuid());
  try {
    notifier_.handle(rejected);
    ADD_FAILURE() << "a permanent rejection must be poison";
  } catch (const messaging::PoisonMessage& p) {
    EXPECT_NE(std::string(p.what()).find("550"), std::string::npos);
  }
}

TEST_F(NotifierTest, EventsWithoutAnAddressArePoison) {
  Envelope e = Envelope::make("order.failed",
                              {{"order_id", "o-1"}, {"customer_id", new_uuid()}, {"reason", "x"}});
  try {
    notifier_.handle(e);
    ADD_FAILURE() << "expected poison";
  } catch (const messaging::PoisonMessage& p) {
    EXPECT_NE(std::string(p.what()).find("'email' is missing"), std::string::npos) << p.what();
  }
  EXPECT_TRUE(mailer_.sent.empty());
  EXPECT_FALSE(store_.delivery(e.message_id));
}

TEST_F(NotifierTest, ADeadLetteredEventLeavesNoAddressBehind) {
  const std::string customer = new_uuid();
  const Envelope e = signed_up(customer, "zoe at example.com");
  EXPECT_THROW(notifier_.handle(e), messaging::PoisonMessage);
  EXPECT_TRUE(mailer_.sent.empty());
  EXPECT_FALSE(store_.delivery(e.message_id));
  EXPECT_FALSE(store_.contact(customer));
  // A good event remembers its address, for later events that carry none.
  EXPECT_EQ(notifier_.handle(signed_up(customer, "zoe@example.com")), Outcome::kSent);
  ASSERT_TRUE(store_.contact(customer));
  EXPECT_EQ(store_.contact(customer)->email, "zoe@example.com");
  EXPECT_EQ(store_.contact(customer)->last_name, "Quill");
}

TEST_F(NotifierTest, RefundsUseTheLastKnownAddress) {
  const std::string customer = new_uuid();
  const Envelope refund = Envelope::make(
      "order.refunded", {{"order_id", "o-9"}, {"customer_id", customer}, {"refunded_cents", 1999}});
  try {
    notifier_.handle(refund);
    ADD_FAILURE() << "expected a retryable failure";
  } catch (const messaging::PoisonMessage&) {
    ADD_FAILURE() << "an unknown address may become known: retry, not poison";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no email address is known"), std::string::npos);
  }
  notifier_.handle(signed_up(customer, "zoe.q@example.com"));
  EXPECT_EQ(notifier_.handle(refund), Outcome::kSent);
  ASSERT_EQ(mailer_.sent.size(), 2u);
  EXPECT_EQ(mailer_.sent[1].recipient, "zoe.q@example.com");
  EXPECT_NE(mailer_.sent[1].data.find("To: =?UTF-8?B?Wm/DqyBRdWlsbA==?= <zoe.q@example.com>"),
            std::string::npos);
  EXPECT_NE(store_.list(customer, 1)[0].body.find("$19.99"), std::string::npos);
}

TEST_F(NotifierTest, AnInterruptedDeliveryIsResentUnderTheSameMessageIdOrSkippedByPolicy) {
  const std::string customer = new_uuid();
  const Envelope first = confirmed(customer, "order-a");
  const Envelope second = confirmed(customer, "order-b");
  // A previous process claimed both, then died before recording the outcome.
  store_.claim(keys(first.message_id, "order.confirmed:order-a"), InterruptedPolicy::kResend);
  store_.claim(keys(second.message_id, "order.confirmed:order-b"), InterruptedPolicy::kResend);

  EXPECT_EQ(notifier_.handle(first), Outcome::kSent);
  ASSERT_EQ(mailer_.sent.size(), 1u);
  EXPECT_EQ(mailer_.sent[0].message_id, "order.confirmed.order-a@wonderland.local");

  Notifier skipping(store_, mailer_,
                    NotifierOptions{{"Shop", "shop@example.org"}, InterruptedPolicy::kSkip});
  EXPECT_EQ(skipping.handle(second), Outcome::kRecordedOnly);
  EXPECT_EQ(mailer_.sent.size(), 1u);
  EXPECT_EQ(store_.delivery(second.message_id)->status, "sent");
  EXPECT_EQ(store_.list(customer, 50).size(), 2u);
}

TEST_F(DeliveryTest, OutboxWritesAParseableEmlWithTheInvoice) {
  Store store(db_path());
  OutboxMailer outbox(dir_.path() / "outbox");
  Notifier notifier(store, outbox, NotifierOptions{});
  const std::string customer = new_uuid();
  const std::string order = new_uuid();
  const Envelope e = confirmed(customer, order);
  ASSERT_EQ(notifier.handle(e), Outcome::kSent);
  const auto eml = dir_.path() / "outbox" / ("order.confirmed." + order + ".eml");
  ASSERT_TRUE(std::filesystem::exists(eml));
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator(dir_.path() / "outbox"))
    ++files;
  EXPECT_EQ(files, 1u) << "no temporary file is left behind";

  const auto attachments = dir_.path() / "attachments";
  std::filesystem::create_directories(attachments);
  const json s = test::summarize_eml(eml, attachments);
  EXPECT_EQ(s["defects"], 0);
  EXPECT_EQ(s["ascii"], true);
  EXPECT_EQ(s["crlf"], true);
  // Every line within 78 characters but the Message-ID's, which cannot be folded.
  EXPECT_LE(s["max_line"].get<int>(), 998);
  EXPECT_LE(s["max_line_except_message_id"].get<int>(), 78) << s["longest_line"];
  EXPECT_EQ(s["structure"], json::array({"multipart/mixed", "multipart/alternative", "text/plain",
                                         "text/html", "application/pdf"}));
  EXPECT_EQ(s["from"], "Wonderland Bookstore <orders@wonderland.local>");
  EXPECT_EQ(s["to_address"], "zoe@example.com");
  EXPECT_EQ(s["to_name"], "Zo\xC3\xAB Quill");
  EXPECT_EQ(s["subject"], "Your Wonderland order " + order.substr(0, 8) + " is confirmed");
  EXPECT_EQ(s["date"], "Thu, 26 Nov 2026 09:26:12 +0000");
  EXPECT_EQ(s["message_id"], "<order.confirmed." + order + "@wonderland.local>");
  EXPECT_EQ(s["mime_version"], "1.0");
  EXPECT_NE(s["text"].get<std::string>().find("Hello Zo\xC3\xAB,"), std::string::npos);
  EXPECT_NE(s["text"].get<std::string>().find("Total: $74.98"), std::string::npos);
  EXPECT_NE(s["html"].get<std::string>().find("Alice&#39;s Adventures in Wonderland"),
            std::string::npos);
  ASSERT_EQ(s["attachments"].size(), 1u);
  EXPECT_EQ(s["attachments"][0]["filename"], "invoice-" + order + ".pdf");
  EXPECT_EQ(s["attachments"][0]["disposition"], "attachment");
  const std::string pdf = test::pdf_text(s["attachments"][0]["saved_as"].get<std::string>());
  EXPECT_NE(pdf.find("Alice's Adventures in Wonderland"), std::string::npos) << pdf;
  EXPECT_NE(pdf.find("Through the Looking-Glass"), std::string::npos) << pdf;
  EXPECT_NE(pdf.find("$74.98"), std::string::npos) << pdf;

  // A resend (the interrupted-delivery policy) replaces the file rather than adding one.
  const std::string before = test::read_file(eml);
  outbox.send(OutgoingMail{"orders@wonderland.local", "zoe@example.com", "x@y",
                           "order.confirmed." + order, before});
  EXPECT_EQ(test::read_file(eml), before);
  EXPECT_THROW(outbox.send(OutgoingMail{"a@b.c", "d@e.f", "x@y", "../escape", "x"}), DeliveryError);
}

TEST_F(DeliveryTest, ListCommandValidatesAndAnswersNewestFirst) {
  Store store(db_path());
  const std::string customer = new_uuid();
  for (int i = 0; i < 2; ++i) {
    Claim c = store.claim(keys("m" + std::to_string(i), "k" + std::to_string(i)),
                          InterruptedPolicy::kResend);
    NotificationRecord r = record(customer, "subject " + std::to_string(i));
    r.created_at = "2026-11-26T09:00:0" + std::to_string(i) + ".000Z";
    if (i == 1)
      r.order_id.clear();
    store.mark_sent(c.delivery_id, r);
  }
  Result<json> ok = list_notifications(store, {{"customer_id", customer}});
  ASSERT_TRUE(ok.ok());
  ASSERT_EQ((*ok)["notifications"].size(), 2u);
  const json& newest = (*ok)["notifications"][0];
  EXPECT_EQ(newest["subject"], "subject 1");
  EXPECT_TRUE(newest["order_id"].is_null());
  EXPECT_EQ(newest["created_at"], "2026-11-26T09:00:01.000Z");
  for (const char* key :
       {"notification_id", "kind", "subject", "order_id", "email", "body", "created_at"}) {
    EXPECT_TRUE(newest.contains(key)) << key;
  }
  EXPECT_EQ((*ok)["notifications"][1]["order_id"], "o-1");
  EXPECT_EQ((*list_notifications(store, {{"customer_id", customer}, {"limit", 1}}))["notifications"]
                .size(),
            1u);
  EXPECT_TRUE((*list_notifications(store, {{"customer_id", new_uuid()}}))["notifications"].empty());

  Result<json> bad = list_notifications(store, {{"customer_id", "nope"}, {"limit", 0}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, codes::kInvalidArgument);
  ASSERT_EQ(bad.error().fields.size(), 2u);
  EXPECT_EQ(bad.error().fields[0].field, "customer_id");
  EXPECT_EQ(bad.error().fields[1].field, "limit");
  EXPECT_FALSE(list_notifications(store, json::array()).ok());
}

}  // namespace
}  // namespace wonderland::notification
