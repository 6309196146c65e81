// Retention through the real mediator: with a tiny retention age a finished workflow leaves the
// hot journal for the archive, and the operator API still reads it by id.
#include <gtest/gtest.h>

#include <string>

#include "support.hpp"
#include "wonderland/common/ids.hpp"

namespace wonderland::mediator_test {
namespace {

bool listed(const json& page, const std::string& id) {
  for (const json& item : page.value("items", json::array())) {
    if (item.value("id", "") == id)
      return true;
  }
  return false;
}

TEST(MediatorRetention, AFinishedWorkflowIsArchivedAndStillReadByItsId) {
  Harness h("retention",
            {{"WONDERLAND_RETENTION_MS", "1500"}, {"WONDERLAND_RETENTION_INTERVAL_MS", "100"}});
  h.start_worker();
  h.start_mediator();
  const std::string id = "wf-" + new_uuid();
  ASSERT_EQ(h.start("test_signal", json::object(), id).status, 202);
  const std::string waiting = "wf-" + new_uuid();
  ASSERT_EQ(h.start("test_signal", json::object(), waiting).status, 202);
  const std::string signal = "/api/workflows/" + id + "/signals/approved";
  ASSERT_EQ(h.post(signal, {{"signal_id", "sig-1"}}, h.token()).status, 202);
  json hot = h.wait_settled(id);
  ASSERT_EQ(hot.value("status", ""), "completed") << hot.dump(2);
  EXPECT_FALSE(hot.contains("archived"));

  json archived = h.wait_for(
      id, [](const json& v) { return v.value("archived", false); }, std::chrono::seconds(20));
  ASSERT_FALSE(archived.is_null()) << h.mediator_log();
  EXPECT_EQ(archived["status"], "completed");
  EXPECT_EQ(archived["timeline"], hot["timeline"]);
  EXPECT_EQ(archived["input"], hot["input"]);
  // Listed in the archive only.
  auto page = h.get("/api/workflows?archived=true&definition=test_signal", h.token());
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_TRUE(listed(page.json(), id)) << page.body;
  page = h.get("/api/workflows?limit=1000", h.token());
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_FALSE(listed(page.json(), id)) << page.body;
  EXPECT_TRUE(listed(page.json(), waiting)) << page.body;
  // The signal sent again is acknowledged from the archived history; another is refused, and so
  // are the operator's changes.
  EXPECT_EQ(h.post(signal, {{"signal_id", "sig-1"}}, h.token()).status, 202);
  EXPECT_EQ(h.post(signal, {{"signal_id", "sig-2"}}, h.token()).status, 409);
  auto retry = h.post("/api/workflows/" + id + "/retry", json::object(), h.token());
  EXPECT_EQ(retry.status, 409) << retry.body;
  EXPECT_NE(retry.body.find("archived"), std::string::npos) << retry.body;
  auto cancel = h.post("/api/workflows/" + id + "/cancel", json::object(), h.token());
  EXPECT_EQ(cancel.status, 409) << cancel.body;
  // A running workflow stays hot however old.
  json still = h.workflow(waiting);
  EXPECT_EQ(still.value("status", ""), "running");
  EXPECT_FALSE(still.contains("archived"));
  auto metrics = h.get("/metrics", h.token());
  ASSERT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.body.find("\nwonderland_journal_archived_total 0\n"), std::string::npos);
  EXPECT_NE(metrics.body.find("\nwonderland_journal_archived_total "), std::string::npos);
  ASSERT_EQ(
      h.post("/api/workflows/" + waiting + "/signals/approved", json::object(), h.token()).status,
      202);
  EXPECT_EQ(h.wait_settled(waiting).value("status", ""), "completed");
  EXPECT_EQ(h.stop_mediator(), 0) << h.mediator_log();
  EXPECT_EQ(h.stop_worker(), 0);
}

}  // namespace
}  // namespace wonderland::mediator_test
