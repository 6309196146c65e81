// The workflow filter shared by GET /api/workflows (query parameters) and POST
// /api/workflows/bulk (the `filter` object): status, definition, version, from, to and
// failing_step, read with the same rules and messages from either.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "wonderland/common/time.hpp"
#include "wonderland/http/fields.hpp"
#include "wonderland/workflow/journal.hpp"

namespace wonderland::mediator {

/// Reads the filter fields into a query (limit and page token untouched); errors go into `f`
/// (http::QueryFields or http::JsonFields).
template <class Fields>
workflow::WorkflowQuery read_workflow_filter(Fields& f) {
  workflow::WorkflowQuery query;
  if (auto status = f.optional_string("status")) {
    query.status = workflow::parse_status(*status);
    if (!query.status)
      f.add("status", "must be running, completed, failed, cancelled or needs_attention");
  }
  query.definition = f.optional_string("definition", {1, 200});
  if (auto version = f.optional_integer("version", {1, 1000000}))
    query.version = static_cast<int>(*version);
  // Bounds are compared with the journal's stamps as text, so they are brought to the same
  // form (milliseconds, Z) first.
  auto instant = [&f](const char* name) -> std::optional<std::string> {
    auto raw = f.optional_string(name, {1, 40});
    if (!raw)
      return std::nullopt;
    auto t = parse_iso8601(*raw);
    if (!t) {
      f.add(name, "must be an ISO-8601 UTC time, such as 2026-11-26T16:00:00Z");
      return std::nullopt;
    }
    return format_iso8601(*t);
  };
  query.created_from = instant("from");
  query.created_to = instant("to");
  query.failing_step = f.optional_string("failing_step", {1, 200});
  return query;
}

/// Whether no filter field is set.
inline bool filter_is_empty(const workflow::WorkflowQuery& q) {
  return !q.status && !q.definition && !q.version && !q.created_from && !q.created_to &&
         !q.failing_step;
}

/// The filter fields that are set, in the request's names.
inline nlohmann::json filter_json(const workflow::WorkflowQuery& q) {
  nlohmann::json j = nlohmann::json::object();
  if (q.status)
    j["status"] = std::string(workflow::to_string(*q.status));
  if (q.definition)
    j["definition"] = *q.definition;
  if (q.version)
    j["version"] = *q.version;
  if (q.created_from)
    j["from"] = *q.created_from;
  if (q.created_to)
    j["to"] = *q.created_to;
  if (q.failing_step)
    j["failing_step"] = *q.failing_step;
  return j;
}

}  // namespace wonderland::mediator
