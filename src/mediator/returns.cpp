#include "wonderland/mediator/returns.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include "wonderland/common/ids.hpp"
#include "wonderland/common/time.hpp"

namespace wonderland::mediator {
namespace {

using nlohmann::json;

Error no_such_return(const std::string& id) {
  return Error::of(codes::kNotFound, "no return '" + id + "'");
}

/// What a finished or running return workflow means to its customer.
std::string return_status(const workflow::WorkflowSummary& s,
                          const std::vector<workflow::JournalRecord>& records) {
  bool parcel_taken = false;
  bool timed_out = false;
  for (const auto& r : records) {
    if (r.type == workflow::events::kStepSucceeded && r.step == "parcel") {
      parcel_taken = true;
      timed_out = r.data.value("timed_out", false);
    }
  }
  switch (s.status) {
    case workflow::WorkflowStatus::kRunning:
      return parcel_taken && !timed_out ? "refunding" : "awaiting_parcel";
    case workflow::WorkflowStatus::kCompleted:
      return timed_out ? "expired" : "refunded";
    default:
      return "failed";
  }
}

}  // namespace

std::string return_id_for(const std::string& customer_id, const std::string& order_id,
                          const json& lines) {
  std::vector<std::string> parts;
  for (const auto& l : lines)
    parts.push_back(l.value("isbn", "") + "x" + std::to_string(l.value("quantity", 0)));
  std::sort(parts.begin(), parts.end());
  std::string name = "return\n" + customer_id + "\n" + order_id;
  for (const auto& p : parts)
    name += "\n" + p;
  return name_based_uuid(name);
}

json return_input(const std::string& return_id, const std::string& order_id, const json& profile,
                  const json& checked, std::chrono::milliseconds parcel_timeout,
                  std::chrono::system_clock::time_point now) {
  return json{{"return_id", return_id},
              {"order_id", order_id},
              {"customer_id", profile.value("customer_id", "")},
              {"email", profile.value("email", "")},
              {"first_name", profile.value("first_name", "")},
              {"last_name", profile.value("last_name", "")},
              {"lines", checked.value("lines", json::array())},
              {"refund_cents", checked.value("refund_cents", 0)},
              {"parcel_timeout_ms", parcel_timeout.count()},
              {"parcel_deadline", format_iso8601(now + parcel_timeout)}};
}

Result<json> return_view(const workflow::Engine& engine, const std::string& return_id,
                         const std::string& customer_id) {
  auto summary = engine.find(return_id);
  if (!summary.ok())
    return summary.error();
  if (!summary.value() || summary.value()->definition != "return")
    return no_such_return(return_id);
  auto records = engine.timeline(return_id);
  if (!records.ok())
    return records.error();
  const auto& recs = records.value();
  const json input = recs.empty() ? json::object() : recs.front().data.value("input", json());
  if (!input.is_object() || input.value("customer_id", "") != customer_id)
    return no_such_return(return_id);  // someone else's return is not even acknowledged
  const auto& s = *summary.value();
  json view{{"return_id", return_id},
            {"order_id", input.value("order_id", "")},
            {"status", return_status(s, recs)},
            {"lines", input.value("lines", json::array())},
            {"refund_cents", input.value("refund_cents", 0)},
            {"parcel_deadline", input.value("parcel_deadline", "")},
            {"created_at", s.created_at},
            {"updated_at", s.updated_at.empty() ? s.created_at : s.updated_at}};
  if (view["status"] == "failed") {
    std::string reason;
    for (const auto& r : recs) {
      // The refusing service's own words ("the line ... is already in return ...").
      if (auto f = r.data.find("failure"); f != r.data.end() && f->is_object())
        reason = f->value("message", reason);
    }
    view["reason"] = !reason.empty()     ? reason
                     : !s.reason.empty() ? s.reason
                                         : "The return could not be completed.";
  }
  return view;
}

}  // namespace wonderland::mediator
