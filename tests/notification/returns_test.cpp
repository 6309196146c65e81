// The return events: their bodies, the emails they become, the PDF credit note, and one email per
// event per return.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "support.hpp"
#include "wonderland/common/ids.hpp"
#include "wonderland/messaging/consumer.hpp"
#include "wonderland/notification/events.hpp"
#include "wonderland/notification/invoice.hpp"
#include "wonderland/notification/mailer.hpp"
#include "wonderland/notification/notifier.hpp"

namespace wonderland::notification {
namespace {

using messaging::Envelope;
using nlohmann::json;
using test::expect_invalid;

const std::string kOrder = "5f1f8a0e-6a53-4d1b-8f0a-2b0c8e3d9e11";

json return_lines() {
  return json::array({json{{"isbn", "9780141439761"},
                           {"title", "Alice's Adventures in Wonderland"},
                           {"quantity", 2},
                           {"unit_price_cents", 799},
                           {"refund_cents", 1598}},
                      json{{"isbn", "9780141321073"},
                           {"title", "Through the Looking-Glass"},
                           {"quantity", 1},
                           {"unit_price_cents", 5900},
                           {"refund_cents", 5900}}});
}

/// A return.* event as the return workflow publishes it (`lines`, `refund_cents` and
/// `parcel_deadline` only where the type carries them).
Envelope return_event(const std::string& type, const std::string& return_id,
                      const std::string& customer = new_uuid()) {
  json body{{"return_id", return_id},     {"order_id", kOrder},         {"customer_id", customer},
            {"email", "zoe@example.com"}, {"first_name", "Zo\xC3\xAB"}, {"last_name", "Quill"}};
  if (type != "return.expired") {
    body["lines"] = return_lines();
    body["refund_cents"] = 7498;
  }
  if (type != "return.refunded")
    body["parcel_deadline"] = "2026-12-10T09:30:00Z";
  Envelope e = Envelope::make(type, std::move(body), "mediator");
  e.timestamp = "2026-12-03T14:05:00.000Z";
  return e;
}

TEST(ReturnEvents, ParsesTheThreeBodies) {
  const std::string id = new_uuid();
  Event requested = parse_event(return_event("return.requested", id));
  EXPECT_EQ(requested.kind, Kind::kReturnRequested);
  EXPECT_TRUE(requested.is_return());
  EXPECT_EQ(requested.key(), "return.requested:" + id);
  EXPECT_EQ(requested.return_id, id);
  EXPECT_EQ(requested.order_id, kOrder);
  ASSERT_EQ(requested.items.size(), 2u);
  EXPECT_EQ(requested.items[0],
            (InvoiceLine{"Alice's Adventures in Wonderland", 2, 799, 1598, "9780141439761"}));
  EXPECT_EQ(requested.refund_cents, 7498);
  EXPECT_EQ(format_iso8601(requested.parcel_deadline), "2026-12-10T09:30:00.000Z");
  EXPECT_EQ(kind_name(requested.kind), std::string("return_requested"));

  Event refunded = parse_event(return_event("return.refunded", id));
  EXPECT_EQ(refunded.kind, Kind::kReturnRefunded);
  EXPECT_EQ(refunded.key(), "return.refunded:" + id);
  EXPECT_EQ(refunded.items.size(), 2u);
  EXPECT_EQ(refunded.refund_cents, 7498);
  EXPECT_EQ(kind_name(refunded.kind), std::string("return_refunded"));

  Event expired = parse_event(return_event("return.expired", id));
  EXPECT_EQ(expired.kind, Kind::kReturnExpired);
  EXPECT_EQ(expired.key(), "return.expired:" + id);
  EXPECT_TRUE(expired.items.empty());
  EXPECT_EQ(format_iso8601(expired.parcel_deadline), "2026-12-10T09:30:00.000Z");
  EXPECT_EQ(kind_name(expired.kind), std::string("return_expired"));

  const auto& types = consumed_event_types();
  for (const char* type : {"return.requested", "return.refunded", "return.expired"})
    EXPECT_NE(std::find(types.begin(), types.end(), type), types.end()) << type;
}

TEST(ReturnEvents, RefundsDefaultToQuantityTimesPriceAndTheirSum) {
  Envelope e = return_event("return.refunded", new_uuid());
  e.body.erase("refund_cents");
  e.body["lines"][0].erase("refund_cents");
  e.body["lines"][1]["refund_cents"] = 5000;  // a line refunded for less than it cost
  Event parsed = parse_event(e);
  EXPECT_EQ(parsed.items[0].line_total_cents, 1598);
  EXPECT_EQ(parsed.items[1].line_total_cents, 5000);
  EXPECT_EQ(parsed.refund_cents, 6598);
  e.body["lines"][0].erase("title");  // the isbn stands in for a missing title
  EXPECT_EQ(parse_event(e).items[0].title, "9780141439761");
}

TEST(ReturnEvents, RefusesBodiesThatCannotBecomeAnEmail) {
  Envelope e = return_event("return.requested", new_uuid());
  e.body.erase("return_id");
  expect_invalid(e, "'return_id' is missing");
  e = return_event("return.requested", "not-a-uuid");
  expect_invalid(e, "'return_id' is not a UUID");
  e = return_event("return.refunded", new_uuid());
  e.body.erase("email");
  expect_invalid(e, "'email' is missing");
  e = return_event("return.refunded", new_uuid());
  e.body.erase("lines");
  expect_invalid(e, "'lines' is missing");
  e = return_event("return.requested", new_uuid());
  e.body["lines"] = json::array();
  expect_invalid(e, "'lines' is empty");
  e = return_event("return.refunded", new_uuid());
  e.body["lines"][1].erase("isbn");
  expect_invalid(e, "lines[1].isbn' is missing");
  e = return_event("return.refunded", new_uuid());
  e.body["lines"][0]["refund_cents"] = -1;
  expect_invalid(e, "'refund_cents' must be between");
  e = return_event("return.refunded", new_uuid());
  e.body["lines"][0]["quantity"] = 0;
  expect_invalid(e, "'quantity' must be between");
  e = return_event("return.expired", new_uuid());
  e.body.erase("parcel_deadline");
  expect_invalid(e, "'parcel_deadline' is missing");
  e = return_event("return.requested", new_uuid());
  e.body["parcel_deadline"] = "in two weeks";
  expect_invalid(e, "'parcel_deadline' is not ISO-8601");
  e = return_event("return.expired", new_uuid());
  e.body.erase("order_id");
  expect_invalid(e, "'order_id' is missing");
}

TEST(ComposeReturns, RequestedListsTheLinesAndTheParcelDeadline) {
  const std::string id = new_uuid();
  Content c = compose(parse_event(return_event("return.requested", id)));
  EXPECT_EQ(c.subject, "Your Wonderland return " + id.substr(0, 8) +
                           ": send the parcel by 2026-12-10 09:30 UTC");
  EXPECT_NE(c.text.find("Hello Zo\xC3\xAB,"), std::string::npos) << c.text;
  EXPECT_NE(c.text.find("Return: " + id), std::string::npos) << c.text;
  EXPECT_NE(c.text.find("order " + kOrder), std::string::npos) << c.text;
  EXPECT_NE(c.text.find("- Alice's Adventures in Wonderland (ISBN 9780141439761)\n"
                        "  2 x $7.99 = $15.98"),
            std::string::npos)
      << c.text;
  EXPECT_NE(c.text.find("Refund: $74.98"), std::string::npos) << c.text;
  EXPECT_NE(c.text.find("send the parcel by 2026-12-10 09:30 UTC"), std::string::npos) << c.text;
  EXPECT_NE(c.html.find("Alice&#39;s Adventures in Wonderland"), std::string::npos);
  EXPECT_NE(c.html.find("$74.98"), std::string::npos);
  EXPECT_FALSE(c.attachment);
}

TEST(ComposeReturns, RefundedShowsTheAmountAndAttachesTheCreditNote) {
  const std::string id = new_uuid();
  Content c = compose(parse_event(return_event("return.refunded", id)));
  EXPECT_EQ(c.subject, "We refunded $74.98 for your Wonderland return " + id.substr(0, 8));
  EXPECT_NE(c.text.find("have refunded $74.98 for order " + kOrder), std::string::npos) << c.text;
  EXPECT_NE(c.text.find("Total refunded: $74.98"), std::string::npos) << c.text;
  EXPECT_NE(c.text.find("credit-note-" + id + ".pdf"), std::string::npos) << c.text;
  test::expect_pdf_attachment(c, "credit-note-" + id + ".pdf");
}

TEST(ComposeReturns, ExpiredSaysTheParcelDidNotArriveAndTheReturnIsClosed) {
  const std::string id = new_uuid();
  Content c = compose(parse_event(return_event("return.expired", id)));
  EXPECT_EQ(c.subject, "Your Wonderland return " + id.substr(0, 8) + " is closed");
  EXPECT_NE(c.text.find("We did not receive the parcel for your return " + id + " (order " +
                        kOrder + ") by 2026-12-10 09:30 UTC"),
            std::string::npos)
      << c.text;
  EXPECT_NE(c.text.find("the return is closed"), std::string::npos);
  EXPECT_FALSE(c.attachment);
}

TEST(CreditNote, PdfShowsTheReturnTheOrderTheLinesAndTheTotal) {
  test::TempDir dir;
  CreditNote note;
  note.customer_name = "Zo\xC3\xAB Quill";
  note.customer_email = "zoe@example.com";
  note.return_id = "0b6f4a52-5d8c-4b7e-9a53-6c1d2e3f4a5b";
  note.order_id = kOrder;
  note.refunded_at = *parse_iso8601("2026-12-03T14:05:00Z");
  note.lines = {{"Alice's Adventures in Wonderland", 2, 799, 1598, "9780141439761"},
                {"Caf\xC3\xA9 Stories", 1, 120000, 100000, "9780141321073"}};
  note.total_cents = 101598;
  const std::string pdf = render_credit_note_pdf(note);
  ASSERT_EQ(pdf.rfind("%PDF-", 0), 0u);
  EXPECT_NE(pdf.find("%%EOF"), std::string::npos);
  const auto path = dir.path() / "credit-note.pdf";
  std::ofstream(path, std::ios::binary) << pdf;
  const std::string text = test::pdf_text(path);
  for (const std::string& expected :
       {std::string("CREDIT NOTE"), note.return_id, note.order_id, std::string("Zo\xC3\xAB Quill"),
        std::string("2026-12-03 14:05 UTC"), std::string("Alice's Adventures in Wonderland"),
        std::string("ISBN 9780141439761"), std::string("Caf\xC3\xA9 Stories"),
        std::string("ISBN 9780141321073"), std::string("$7.99"), std::string("$15.98"),
        std::string("$1,200.00"), std::string("$1,000.00"), std::string("Refund"),
        std::string("Total refunded"), std::string("$1,015.98")}) {
    EXPECT_NE(text.find(expected), std::string::npos) << expected << " in:\n" << text;
  }
}

class ReturnDeliveryTest : public ::testing::Test {
 protected:
  ReturnDeliveryTest()
      : store_((dir_.path() / "notification.db").string()),
        outbox_(dir_.path() / "outbox"),
        notifier_(store_, outbox_, NotifierOptions{}) {}
  test::TempDir dir_;
  Store store_;
  OutboxMailer outbox_;
  Notifier notifier_;
};

TEST_F(ReturnDeliveryTest, OneEmailPerEventPerReturn) {
  const std::string customer = new_uuid();
  const std::string id = new_uuid();
  for (const char* type : {"return.requested", "return.refunded"}) {
    const Envelope e = return_event(type, id, customer);
    EXPECT_EQ(notifier_.handle(e), Outcome::kSent) << type;
    EXPECT_EQ(notifier_.handle(e), Outcome::kDuplicate) << type;
    Envelope republished = e;  // the workflow publishing the step again after a crash
    republished.message_id = new_uuid();
    EXPECT_EQ(notifier_.handle(republished), Outcome::kDuplicate) << type;
  }
  // Another return of the same order is another email.
  EXPECT_EQ(notifier_.handle(return_event("return.requested", new_uuid(), customer)),
            Outcome::kSent);

  const std::vector<NotificationRecord> history = store_.list(customer, 10);
  ASSERT_EQ(history.size(), 3u);
  std::vector<std::string> kinds;
  for (const auto& n : history) {
    kinds.push_back(n.kind);
    EXPECT_EQ(n.order_id, kOrder);
  }
  std::sort(kinds.begin(), kinds.end());
  EXPECT_EQ(kinds,
            (std::vector<std::string>{"return_refunded", "return_requested", "return_requested"}));

  const auto eml = dir_.path() / "outbox" / ("return.refunded." + id + ".eml");
  ASSERT_TRUE(std::filesystem::exists(eml));
  const auto attachments = dir_.path() / "attachments";
  std::filesystem::create_directories(attachments);
  const json s = test::summarize_eml(eml, attachments);
  EXPECT_EQ(s["defects"], 0);
  EXPECT_EQ(s["message_id"], "<return.refunded." + id + "@wonderland.local>");
  EXPECT_EQ(s["structure"], json::array({"multipart/mixed", "multipart/alternative", "text/plain",
                                         "text/html", "application/pdf"}));
  ASSERT_EQ(s["attachments"].size(), 1u);
  EXPECT_EQ(s["attachments"][0]["filename"], "credit-note-" + id + ".pdf");
  const std::string pdf = test::pdf_text(s["attachments"][0]["saved_as"].get<std::string>());
  EXPECT_NE(pdf.find(id), std::string::npos) << pdf;
  EXPECT_NE(pdf.find("Through the Looking-Glass"), std::string::npos) << pdf;
  EXPECT_NE(pdf.find("$74.98"), std::string::npos) << pdf;
}

TEST_F(ReturnDeliveryTest, ABadReturnEventIsPoisonWithItsReason) {
  Envelope e = return_event("return.expired", new_uuid());
  e.body.erase("parcel_deadline");
  try {
    notifier_.handle(e);
    ADD_FAILURE() << "expected poison";
  } catch (const messaging::PoisonMessage& p) {
    EXPECT_NE(std::string(p.what()).find("'parcel_deadline' is missing"), std::string::npos)
        << p.what();
  }
  EXPECT_FALSE(store_.delivery(e.message_id));
}

}  // namespace
}  // namespace wonderland::notification
