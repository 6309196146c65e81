// The events the service consumes, the emails they become, and the PDF invoice.
#include <gtest/gtest.h>

#include "support.hpp"
#include "wonderland/common/ids.hpp"
#include "wonderland/notification/events.hpp"
#include "wonderland/notification/invoice.hpp"

namespace wonderland::notification {
namespace {

using messaging::Envelope;
using nlohmann::json;
using test::expect_invalid;

Envelope event(const std::string& type, json body) {
  Envelope e = Envelope::make(type, std::move(body), "test");
  e.timestamp = "2026-11-26T09:26:12.345Z";
  return e;
}

json confirmed_body(const std::string& customer_id, const std::string& order_id) {
  return json{
      {"order_id", order_id},
      {"customer_id", customer_id},
      {"email", "zoe@example.com"},
      {"first_name", "Zo\xC3\xAB"},
      {"last_name", "Quill"},
      {"items", json::array({json{{"isbn", "9781492043454"},
                                  {"title", "Designing Data-Intensive Applications"},
                                  {"quantity", 2},
                                  {"unit_price_cents", 5900},
                                  {"line_total_cents", 11800}},
                             json{{"isbn", "9780141439761"},
                                  {"title", "Caf\xC3\xA9 \xC5\x81\xC3\xB3\x64\xC5\xBA <Stories>"},
                                  {"quantity", 1},
                                  {"unit_price_cents", 1347},
                                  {"line_total_cents", 1347}}})},
      {"total_cents", 13147},
      {"confirmed_at", "2026-11-26T09:26:10.000Z"}};
}

TEST(Events, ParsesEachConsumedType) {
  const std::string customer = new_uuid();
  const std::string order = new_uuid();
  Event welcome = parse_event(event("customer.signed_up", {{"customer_id", customer},
                                                           {"username", "zoe"},
                                                           {"email", "zoe@example.com"},
                                                           {"first_name", "Zo\xC3\xAB"},
                                                           {"last_name", "Quill"}}));
  EXPECT_EQ(welcome.kind, Kind::kWelcome);
  EXPECT_EQ(welcome.key(), "customer.signed_up:" + customer);
  EXPECT_EQ(welcome.full_name(), "Zo\xC3\xAB Quill");

  Event confirmed = parse_event(event("order.confirmed", confirmed_body(customer, order)));
  EXPECT_EQ(confirmed.kind, Kind::kOrderConfirmed);
  EXPECT_EQ(confirmed.key(), "order.confirmed:" + order);
  ASSERT_EQ(confirmed.items.size(), 2u);
  EXPECT_EQ(confirmed.items[0],
            (InvoiceLine{"Designing Data-Intensive Applications", 2, 5900, 11800}));
  EXPECT_EQ(confirmed.total_cents, 13147);
  EXPECT_EQ(format_iso8601(confirmed.confirmed_at), "2026-11-26T09:26:10.000Z");

  Event failed = parse_event(event("order.failed", {{"order_id", order},
                                                    {"customer_id", customer},
                                                    {"email", "zoe@example.com"},
                                                    {"reason", "Your card was declined"}}));
  EXPECT_EQ(failed.reason, "Your card was declined");

  Event refunded = parse_event(
      event("order.refunded",
            {{"order_id", order}, {"customer_id", customer}, {"refunded_cents", 13147}}));
  EXPECT_EQ(refunded.refunded_cents, 13147);
  EXPECT_TRUE(refunded.email.empty());
}

TEST(Events, FillsDefaultsForOptionalFields) {
  json body = confirmed_body(new_uuid(), new_uuid());
  body.erase("total_cents");
  body.erase("confirmed_at");
  body["lines"] = body["items"];
  body.erase("items");
  body["lines"][0].erase("line_total_cents");
  Event e = parse_event(event("order.confirmed", body));
  EXPECT_EQ(e.items[0].line_total_cents, 11800);
  EXPECT_EQ(e.total_cents, 13147);
  EXPECT_EQ(format_iso8601(e.confirmed_at), "2026-11-26T09:26:12.345Z");

  Event failed = parse_event(event(
      "order.failed", {{"order_id", "o-1"}, {"customer_id", new_uuid()}, {"email", "a@b.c"}}));
  EXPECT_EQ(failed.reason, "the order could not be completed");
}

TEST(Events, RefusesWhatCannotBecomeAnEmail) {
  const std::string c = new_uuid();
  expect_invalid(event("order.failed", {{"order_id", "o-1"}, {"customer_id", c}, {"reason", "x"}}),
                 "'email' is missing");
  expect_invalid(
      event("order.confirmed", {{"order_id", "o-1"}, {"customer_id", c}, {"items", json::array()}}),
      "'email' is missing");
  expect_invalid(event("customer.signed_up", {{"customer_id", c}, {"email", "not an address"}}),
                 "'email'");
  expect_invalid(event("customer.signed_up", {{"customer_id", "42"}, {"email", "a@b.c"}}),
                 "'customer_id'");
  expect_invalid(event("customer.signed_up", json::array()), "not a JSON object");
  expect_invalid(event("order.shipped", {{"customer_id", c}}), "no notification");
  expect_invalid(event("order.failed",
                       {{"order_id", "../etc/passwd"}, {"customer_id", c}, {"email", "a@b.c"}}),
                 "'order_id'");
  expect_invalid(
      event("order.refunded", {{"order_id", "o-1"}, {"customer_id", c}, {"refunded_cents", 0}}),
      "'refunded_cents'");
  json bad = confirmed_body(c, "o-1");
  bad["items"][1]["quantity"] = "two";
  expect_invalid(event("order.confirmed", bad), "'quantity' must be an integer");
  bad = confirmed_body(c, "o-1");
  bad["items"] = json::array();
  expect_invalid(event("order.confirmed", bad), "'items' is empty");
  bad = confirmed_body(c, "o-1");
  bad["items"][0].erase("title");
  bad["items"][0].erase("isbn");
  expect_invalid(event("order.confirmed", bad), "items[0].title");
  bad = confirmed_body(c, "o-1");
  bad["first_name"] = 7;
  expect_invalid(event("order.confirmed", bad), "'first_name' must be a string");
}

TEST(Compose, WelcomeGreetsByName) {
  Event e = parse_event(event("customer.signed_up", {{"customer_id", new_uuid()},
                                                     {"username", "zoe"},
                                                     {"email", "zoe@example.com"},
                                                     {"first_name", "<Zo\xC3\xAB>"},
                                                     {"last_name", "Quill"}}));
  Content c = compose(e);
  EXPECT_EQ(c.subject, "Welcome to Wonderland Bookstore, <Zo\xC3\xAB>!");
  EXPECT_NE(c.text.find("Hello <Zo\xC3\xAB>,"), std::string::npos);
  EXPECT_NE(c.text.find("\"zoe\""), std::string::npos);
  EXPECT_NE(c.html.find("Hello &lt;Zo\xC3\xAB&gt;,"), std::string::npos);
  EXPECT_EQ(c.html.find("<Zo"), std::string::npos);  // escaped everywhere, the title included
  EXPECT_FALSE(c.attachment);
}

TEST(Compose, ConfirmationListsLinesAndAttachesTheInvoice) {
  const std::string order = new_uuid();
  Content c = compose(parse_event(event("order.confirmed", confirmed_body(new_uuid(), order))));
  EXPECT_EQ(c.subject, "Your Wonderland order " + order.substr(0, 8) + " is confirmed");
  EXPECT_NE(c.text.find("Designing Data-Intensive Applications\n  2 x $59.00 = $118.00"),
            std::string::npos)
      << c.text;
  EXPECT_NE(c.text.find("Total: $131.47"), std::string::npos);
  EXPECT_NE(c.text.find("Date: 2026-11-26 09:26 UTC"), std::string::npos);
  EXPECT_NE(c.html.find("&lt;Stories&gt;"), std::string::npos);
  EXPECT_NE(c.html.find("$131.47"), std::string::npos);
  test::expect_pdf_attachment(c, "invoice-" + order + ".pdf");
}

TEST(Compose, FailureShowsTheReasonAndRefundTheAmount) {
  const std::string customer = new_uuid();
  Content failed =
      compose(parse_event(event("order.failed", {{"order_id", "o-1"},
                                                 {"customer_id", customer},
                                                 {"email", "a@b.c"},
                                                 {"reason", "Not enough stock for Emma"}})));
  EXPECT_NE(failed.text.find("Reason: Not enough stock for Emma"), std::string::npos);
  EXPECT_NE(failed.text.find("Hello there,"), std::string::npos);
  Content refunded = compose(parse_event(
      event("order.refunded",
            {{"order_id", "o-1"}, {"customer_id", customer}, {"refunded_cents", 123456}})));
  EXPECT_EQ(refunded.subject, "Your refund for Wonderland order o-1");
  EXPECT_NE(refunded.text.find("We have refunded $1,234.56 for order o-1"), std::string::npos);
}

TEST(Invoice, PdfTextShowsTitlesAmountsAndTotal) {
  test::TempDir dir;
  Invoice invoice;
  invoice.customer_name = "Zo\xC3\xAB Quill";
  invoice.customer_email = "zoe@example.com";
  invoice.order_id = "5f1f8a0e-6a53-4d1b-8f0a-2b0c8e3d9e11";
  invoice.order_date = *parse_iso8601("2026-11-26T09:26:12Z");
  invoice.lines = {
      {"Designing Data-Intensive Applications", 2, 5900, 11800},
      {"Caf\xC3\xA9 \xE2\x80\x9C"
       "Cr\xC3\xA8me\xE2\x80\x9D \xE2\x80\x93 \xC5\x81\xC3\xB3\x64\xC5\xBA \xE6\x9D\xB1",
       1, 1347, 1347},
      {"Alice's Adventures in Wonderland", 3, 99999, 299997}};
  invoice.total_cents = 313144;
  const std::string pdf = render_invoice_pdf(invoice);
  ASSERT_EQ(pdf.rfind("%PDF-", 0), 0u);
  EXPECT_NE(pdf.find("%%EOF"), std::string::npos);
  const auto path = dir.path() / "invoice.pdf";
  std::ofstream(path, std::ios::binary) << pdf;
  const std::string text = test::pdf_text(path);
  EXPECT_NE(text.find("Designing Data-Intensive Applications"), std::string::npos) << text;
  // Latin-1 and Windows-1252 characters survive; others are transliterated or replaced.
  EXPECT_NE(text.find("Caf\xC3\xA9 \xE2\x80\x9C"
                      "Cr\xC3\xA8me\xE2\x80\x9D \xE2\x80\x93 L\xC3\xB3"
                      "dz ?"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("Alice's Adventures in Wonderland"), std::string::npos) << text;
  EXPECT_NE(text.find("Zo\xC3\xAB Quill"), std::string::npos);
  EXPECT_NE(text.find("5f1f8a0e-6a53-4d1b-8f0a-2b0c8e3d9e11"), std::string::npos);
  EXPECT_NE(text.find("2026-11-26 09:26 UTC"), std::string::npos);
  EXPECT_NE(text.find("$59.00"), std::string::npos);
  EXPECT_NE(text.find("$118.00"), std::string::npos);
  EXPECT_NE(text.find("$2,999.97"), std::string::npos);
  EXPECT_NE(text.find("Total"), std::string::npos);
  EXPECT_NE(text.find("$3,131.44"), std::string::npos);
}

TEST(Invoice, LongOrdersWrapTitlesAndContinueOnMorePages) {
  test::TempDir dir;
  Invoice invoice;
  invoice.customer_email = "a@b.c";
  invoice.order_id = "o-long";
  const std::string long_title =
      "A Remarkably Long Title About Everything That Happened After Alice Followed The White "
      "Rabbit Down The Hole";
  invoice.lines.push_back({long_title, 1, 100, 100});
  for (int i = 0; i < 80; ++i)
    invoice.lines.push_back({"Volume " + std::to_string(i), 1, 100, 100});
  invoice.total_cents = 8100;
  const auto path = dir.path() / "long.pdf";
  std::ofstream(path, std::ios::binary) << render_invoice_pdf(invoice);
  const std::string text = test::pdf_text(path);
  EXPECT_NE(text.find("Volume 0"), std::string::npos);
  EXPECT_NE(text.find("Volume 79"), std::string::npos);
  EXPECT_NE(text.find("$81.00"), std::string::npos);
  EXPECT_NE(text.find("Remarkably"), std::string::npos);
  EXPECT_NE(text.find("The Hole"), std::string::npos);  // the last of its wrapped lines
  EXPECT_NE(text.find('\f'), text.rfind('\f')) << "expected more than one page";
}

}  // namespace
}  // namespace wonderland::notification
