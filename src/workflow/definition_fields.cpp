#include "definition_fields.hpp"

#include <algorithm>
#include <optional>
#include <set>

#include "wonderland/workflow/template.hpp"

namespace wonderland::workflow::detail {

using nlohmann::json;

void FieldReader::fail(const std::string& where, const std::string& field,
                       const std::string& why) const {
  std::string msg = source_ + ": ";
  if (!where.empty())
    msg += "step " + where + ": ";
  if (!field.empty())
    msg += "field '" + field + "': ";
  throw Invalid{msg + why};
}

void FieldReader::check_fields(const std::string& where, const json& obj,
                               std::initializer_list<const char*> allowed,
                               const std::string& prefix) const {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    bool known =
        std::any_of(allowed.begin(), allowed.end(), [&](const char* a) { return it.key() == a; });
    if (!known)
      fail(where, prefix + it.key(), "unknown field");
  }
}

std::string FieldReader::required_string(const std::string& where, const json& obj,
                                         const char* field, const std::string& prefix) const {
  if (!obj.contains(field))
    fail(where, prefix + field, "is required");
  const json& v = obj[field];
  if (!v.is_string() || v.get_ref<const std::string&>().empty()) {
    fail(where, prefix + field, "must be a non-empty string");
  }
  return v.get<std::string>();
}

std::chrono::milliseconds FieldReader::parse_ms(const std::string& where, const json& v,
                                                const std::string& field, long long min) const {
  if (!v.is_number_integer() || v.get<long long>() < min || v.get<long long>() > 86'400'000) {
    fail(where, field, "must be an integer between " + std::to_string(min) + " and 86400000");
  }
  return std::chrono::milliseconds(v.get<long long>());
}

RetryPolicy FieldReader::parse_retry(const std::string& where, const json& j, RetryPolicy base,
                                     const std::string& field) const {
  if (!j.is_object())
    fail(where, field, "must be an object");
  const std::string p = field + ".";
  check_fields(where, j,
               {"max_attempts", "initial_backoff_ms", "max_backoff_ms", "multiplier", "jitter",
                "retry_on", "transient_for_ms"},
               p);
  if (j.contains("max_attempts")) {
    const json& v = j["max_attempts"];
    if (!v.is_number_integer() || v.get<long long>() < 1 || v.get<long long>() > 1'000'000) {
      fail(where, p + "max_attempts", "must be an integer >= 1");
    }
    base.max_attempts = v.get<int>();
  }
  if (j.contains("initial_backoff_ms")) {
    base.initial_backoff = parse_ms(where, j["initial_backoff_ms"], p + "initial_backoff_ms", 0);
  }
  if (j.contains("max_backoff_ms")) {
    base.max_backoff = parse_ms(where, j["max_backoff_ms"], p + "max_backoff_ms", 0);
  }
  if (j.contains("transient_for_ms")) {
    base.transient_for = parse_ms(where, j["transient_for_ms"], p + "transient_for_ms", 0);
  }
  if (base.max_backoff < base.initial_backoff) {
    fail(where, p + "max_backoff_ms", "must not be less than initial_backoff_ms");
  }
  if (j.contains("multiplier")) {
    const json& v = j["multiplier"];
    if (!v.is_number() || v.get<double>() < 1.0 || v.get<double>() > 100.0) {
      fail(where, p + "multiplier", "must be a number between 1 and 100");
    }
    base.multiplier = v.get<double>();
  }
  if (j.contains("jitter")) {
    const json& v = j["jitter"];
    if (!v.is_number() || v.get<double>() < 0.0 || v.get<double>() > 1.0) {
      fail(where, p + "jitter", "must be a number between 0 and 1");
    }
    base.jitter = v.get<double>();
  }
  if (j.contains("retry_on")) {
    const json& v = j["retry_on"];
    if (!v.is_array())
      fail(where, p + "retry_on", "must be an array of error codes");
    base.retry_on.clear();
    for (const auto& code : v) {
      if (!code.is_string())
        fail(where, p + "retry_on", "must be an array of error codes");
      const std::string& text = code.get_ref<const std::string&>();
      std::optional<Code> known = parse_code(text);
      if (!known)
        fail(where, p + "retry_on", "'" + text + "' is not a canonical error code");
      base.retry_on.push_back(*known);
    }
  }
  return base;
}

void check_template(const FieldReader& reader, const Definition& def, const PendingTemplate& t) {
  auto refs = template_references(t.tmpl);
  if (!refs)
    reader.fail(t.where, t.field, refs.error().message);
  for (const TemplatePath& ref : *refs) {
    const auto& seg = ref.segments;
    const std::string shown = "'${" + ref.text + "}'";
    if (seg[0] == "input")
      continue;
    if (def.map_body && (seg[0] == "item" || seg[0] == "index")) {
      if (seg[0] == "index" && seg.size() != 1)
        reader.fail(t.where, t.field, shown + ": index is a number");
      continue;
    }
    if (seg[0] == "workflow") {
      static const std::set<std::string> kFields{"id", "definition", "version", "run"};
      if (seg.size() != 2 || !kFields.count(seg[1])) {
        reader.fail(t.where, t.field,
                    shown + ": workflow has only id, definition, version and run");
      }
      continue;
    }
    if (seg[0] == "failure") {
      if (!t.failure) {
        reader.fail(t.where, t.field,
                    shown + ": 'failure' exists only in compensations and on_failure steps");
      }
      continue;
    }
    if (seg[0] == "steps") {
      if (seg.size() < 3 || seg[2] != "output") {
        reader.fail(t.where, t.field, shown + ": must be steps.<id>.output[...]");
      }
      const Step* target = def.find(seg[1]);
      if (!target)
        reader.fail(t.where, t.field, shown + ": no step '" + seg[1] + "'");
      if (t.self && target->index == *t.self && !t.own_output) {
        reader.fail(t.where, t.field, shown + ": a step cannot use its own output");
      }
      continue;
    }
    reader.fail(
        t.where, t.field,
        shown + (def.map_body ? ": must start with item, index, input, workflow, steps or failure"
                              : ": must start with input, workflow, steps or failure"));
  }
}

}  // namespace wonderland::workflow::detail
