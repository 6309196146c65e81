// Card data in journals written before payments were tokenised: the mediator's one-time scrub
// (SqliteJournalOptions::rewrite with scrub_card_data), checked on the database and WAL bytes;
// and the redaction of payment data in monitoring output.
#include <gtest/gtest.h>
#include <sodium.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "wonderland/common/secret_key.hpp"
#include "wonderland/mediator/orders.hpp"
#include "wonderland/mediator/redact.hpp"
#include "wonderland/testing/temp_dir.hpp"
#include "wonderland/workflow/sqlite_journal.hpp"

namespace wonderland::mediator {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using workflow::JournalRecord;

std::string plain_sha256(const std::string& text) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  char hex[2 * sizeof digest + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return hex;
}

std::string file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// The journal's database file and its WAL, when there is one.
std::string journal_bytes(const fs::path& db) {
  std::string all = file_bytes(db);
  if (fs::exists(db.string() + "-wal"))
    all += file_bytes(db.string() + "-wal");
  return all;
}

JournalRecord record(const std::string& wid, std::int64_t seq, const char* type,
                     const std::string& step, json data) {
  JournalRecord r;
  r.workflow_id = wid;
  r.seq = seq;
  r.type = type;
  r.step = step;
  r.attempt = step.empty() ? 0 : 1;
  r.at = "2025-01-02T03:04:05.000Z";
  r.data = std::move(data);
  if (std::string(type) == workflow::events::kStarted)
    r.status = workflow::WorkflowStatus::kRunning;
  return r;
}

/// What the mediator journalled for one order before tokenisation: the raw payment in the
/// workflow input (with its plain SHA-256), and again in every charge attempt's request.
std::vector<JournalRecord> old_order(const std::string& wid, const json& payment) {
  json input{{"customer_id", "0b7e1f7c-8d7e-4a53-9d1b-8f0f4a3c2b10"},
             {"email", "alice@example.com"},
             {"payment", payment},
             {"request_hash", plain_sha256(payment.dump())}};
  json request{{"order_id", wid},
               {"customer_id", input["customer_id"]},
               {"amount_cents", 1250},
               {"payment", payment}};
  return {record(wid, 1, workflow::events::kStarted, "",
                 {{"definition", "purchase"}, {"version", 1}, {"input", input}}),
          record(wid, 2, workflow::events::kStepStarted, "charge", json::object()),
          record(wid, 3, workflow::events::kStepAttempt, "charge",
                 {{"service", "payment"}, {"action", "payment.charge"}, {"request", request}}),
          record(wid, 4, workflow::events::kStepAttempt, "charge",
                 {{"service", "payment"}, {"action", "payment.charge"}, {"request", request}})};
}

workflow::SqliteJournalOptions scrubbing(const fs::path& path, const SecretKey& key) {
  workflow::SqliteJournalOptions o{.path = path};
  o.rewrite_name = kCardDataScrub;
  o.rewrite = [&key](json& data) {
    return scrub_card_data(data,
                           [&](const json& payment) { return order_fingerprint(key, payment); });
  };
  return o;
}

TEST(CardDataScrubTest, AnOldJournalLosesItsCardDataOnceAndKeepsItsFingerprints) {
  testing::TempDir dir("card-scrub");
  const fs::path live = dir.path() / "live" / "journal.db";
  const fs::path path = dir.path() / "journal.db";
  const json visa{{"method", "visa"},
                  {"card_number", "4242 4242 4242 4242"},
                  {"expiry", "11/31"},
                  {"cvv", "739"}};
  const json paypal{{"method", "paypal"}, {"paypal_email", "jane.doe@example.com"}};
  const std::string visa_order = "00000000-0000-4000-8000-000000000001";
  const std::string paypal_order = "00000000-0000-4000-8000-000000000002";
  {
    // Written by the old format, then copied while open: the WAL still holds the records, as
    // after a crash.
    auto j = workflow::open_sqlite_journal({.path = live}).value();
    auto visa_records = old_order(visa_order, visa);
    auto paypal_records = old_order(paypal_order, paypal);
    ASSERT_TRUE(
        j->append_and_wait(std::make_shared<const std::vector<JournalRecord>>(visa_records)).ok());
    ASSERT_TRUE(
        j->append_and_wait(std::make_shared<const std::vector<JournalRecord>>(paypal_records))
            .ok());
    fs::copy_file(live, path);
    ASSERT_TRUE(fs::exists(live.string() + "-wal"));
    fs::copy_file(live.string() + "-wal", path.string() + "-wal");
  }
  const std::vector<std::string> secrets{"4242 4242 4242 4242", "\"739\"", "11/31",
                                         "jane.doe@example.com", plain_sha256(visa.dump())};
  const std::string before = journal_bytes(path);
  for (const auto& s : secrets)
    ASSERT_NE(before.find(s), std::string::npos) << s << " should be there to start with";

  SecretKey key = SecretKey::random();
  {
    auto j = workflow::open_sqlite_journal(scrubbing(path, key));
    ASSERT_TRUE(j.ok()) << j.error().message;
    // While the journal is open, right after the scrub: the WAL was checkpointed and emptied.
    const std::string during = journal_bytes(path);
    for (const auto& s : secrets)
      EXPECT_EQ(during.find(s), std::string::npos) << s;
    EXPECT_NE(during.find("**** **** **** 4242"), std::string::npos);
    EXPECT_NE(during.find("j***@example.com"), std::string::npos);

    auto h = (*j)->history(visa_order).value();
    ASSERT_EQ(h.records.size(), 4u);
    const json& input = h.records[0].data["input"];
    EXPECT_EQ(input["payment"], (json{{"method", "visa"}, {"card_number", "**** **** **** 4242"}}));
    // The fingerprint a replay of the same request computes now.
    EXPECT_EQ(input["request_hash"], order_fingerprint(key, visa));
    EXPECT_EQ(h.records[2].data["request"]["payment"], input["payment"]);
    EXPECT_EQ(h.records[2].data["request"]["amount_cents"], 1250);
    auto p = (*j)->history(paypal_order).value();
    EXPECT_EQ(p.records[0].data["input"]["payment"],
              (json{{"method", "paypal"}, {"paypal_email", "j***@example.com"}}));
    EXPECT_EQ(p.records[0].data["input"]["request_hash"], order_fingerprint(key, paypal));
  }
  const std::string after = journal_bytes(path);
  for (const auto& s : secrets)
    EXPECT_EQ(after.find(s), std::string::npos) << s;

  // Once: the rewrite is recorded and not run again.
  int calls = 0;
  workflow::SqliteJournalOptions again{.path = path};
  again.rewrite_name = kCardDataScrub;
  again.rewrite = [&](json&) { return ++calls, false; };
  ASSERT_TRUE(workflow::open_sqlite_journal(again).ok());
  EXPECT_EQ(calls, 0);
}

TEST(CardDataScrubTest, NewRecordsAreLeftAlone) {
  SecretKey key = SecretKey::random();
  auto fp = [&](const json& payment) { return order_fingerprint(key, payment); };
  json input{
      {"input",
       {{"payment",
         {{"token", std::string(64, 'a')}, {"method", "visa"}, {"masked", "**** **** **** 4242"}}},
        {"request_hash", std::string(64, 'b')}}}};
  json copy = input;
  EXPECT_FALSE(scrub_card_data(copy, fp));
  EXPECT_EQ(copy, input);
}

TEST(CardDataScrubTest, TheFingerprintIsKeyed) {
  SecretKey a = SecretKey::random();
  SecretKey b = SecretKey::random();
  const json payment{
      {"method", "visa"}, {"card_number", "4242424242424242"}, {"expiry", "11/31"}, {"cvv", "739"}};
  EXPECT_EQ(order_fingerprint(a, payment), order_fingerprint(a, payment));
  EXPECT_EQ(order_fingerprint(a, payment).size(), 64u);
  EXPECT_NE(order_fingerprint(a, payment), order_fingerprint(b, payment));
  EXPECT_NE(order_fingerprint(a, payment), plain_sha256(payment.dump()));
  json other = payment;
  other["cvv"] = "740";
  EXPECT_NE(order_fingerprint(a, payment), order_fingerprint(a, other));
}

TEST(RedactTest, PaymentDataIsMaskedOrRemoved) {
  json in{{"input",
           {{"payment",
             {{"method", "visa"},
              {"card_number", "4242 4242 4242 4242"},
              {"expiry", "11/31"},
              {"cvv", "739"}}},
            {"paypal", {{"paypal_email", "jane.doe@example.com"}}},
            {"masked", {{"card_number", "**** **** **** 4444"}}},
            {"charge", {{"payment_token", "abc"}, {"token", "session"}, {"password", "pw"}}}}}};
  json out = redact(in);
  EXPECT_EQ(
      out["input"]["payment"],
      (json{{"method", "visa"}, {"card_number", "**** **** **** 4242"}, {"cvv", "[redacted]"}}));
  EXPECT_EQ(out["input"]["paypal"]["paypal_email"], "j***@example.com");
  EXPECT_EQ(out["input"]["masked"]["card_number"], "**** **** **** 4444");
  EXPECT_EQ(
      out["input"]["charge"],
      (json{{"payment_token", "[redacted]"}, {"token", "[redacted]"}, {"password", "[redacted]"}}));
}

}  // namespace
}  // namespace wonderland::mediator
