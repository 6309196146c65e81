#include "wonderland/workflow/definition.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>

#include "definition_fields.hpp"
#include "wonderland/common/time.hpp"
#include "wonderland/workflow/journal.hpp"

namespace wonderland::workflow {

using nlohmann::json;

bool RetryPolicy::should_retry(const Error& error) const {
  if (retry_on.empty())
    return error.retryable;
  return std::find(retry_on.begin(), retry_on.end(), error.code) != retry_on.end();
}

bool RetryPolicy::is_transient(const Error& error) {
  return error.code == codes::kUnavailable || error.code == codes::kDeadlineExceeded ||
         error.code == codes::kResourceExhausted || error.code == codes::kAborted;
}

std::chrono::milliseconds RetryPolicy::backoff(int attempt) const {
  double ms = static_cast<double>(initial_backoff.count()) *
              std::pow(multiplier, static_cast<double>(std::max(0, attempt - 1)));
  double cap = static_cast<double>(max_backoff.count());
  if (!(ms < cap))
    ms = cap;
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

std::string_view to_string(StepKind kind) {
  switch (kind) {
    case StepKind::kTask:
      return "task";
    case StepKind::kParallel:
      return "parallel";
    case StepKind::kChoice:
      return "choice";
    case StepKind::kPublish:
      return "publish";
    case StepKind::kWait:
      return "wait";
    case StepKind::kSignal:
      return "signal";
    case StepKind::kWorkflow:
      return "workflow";
    case StepKind::kMap:
      return "map";
  }
  return "task";
}

bool ChoiceCase::matches(const nlohmann::json& value) const {
  switch (op) {
    case Op::kEquals:
      return value == operand;
    case Op::kOneOf:
      return std::any_of(operand.begin(), operand.end(),
                         [&](const nlohmann::json& o) { return o == value; });
    case Op::kLessThan:
      return value.is_number() && value < operand;
    case Op::kGreaterThan:
      return value.is_number() && value > operand;
  }
  return false;
}

namespace {
/// A value as compact JSON for a message, cut after 80 characters.
std::string shown(const json& value) {
  std::string text = value.dump();
  return text.size() > 80 ? text.substr(0, 77) + "..." : text;
}
}  // namespace

Result<std::int64_t> wait_deadline_ms(bool until, const nlohmann::json& value,
                                      std::int64_t now_ms) {
  if (until) {
    std::optional<SystemTime> at;
    if (value.is_string())
      at = parse_iso8601(value.get_ref<const std::string&>());
    if (!at) {
      return Error::of(
          codes::kInvalidArgument,
          "until: " + shown(value) + " is not an ISO-8601 UTC time such as 2026-12-24T18:00:00Z");
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(at->time_since_epoch()).count();
  }
  if (!value.is_number_integer() || value.get<long long>() < 0 ||
      value.get<long long>() > kMaxWaitMs) {
    return Error::of(codes::kInvalidArgument, "duration_ms: " + shown(value) +
                                                  " is not an integer between 0 and " +
                                                  std::to_string(kMaxWaitMs) + " (366 days)");
  }
  return now_ms + value.get<std::int64_t>();
}

Result<std::int64_t> signal_timeout_ms(const nlohmann::json& value) {
  if (!value.is_number_integer() || value.get<long long>() < 1 ||
      value.get<long long>() > kMaxWaitMs) {
    return Error::of(codes::kInvalidArgument, "timeout_ms: " + shown(value) +
                                                  " is not an integer between 1 and " +
                                                  std::to_string(kMaxWaitMs) + " (366 days)");
  }
  return value.get<std::int64_t>();
}

const Step* Definition::find(std::string_view id) const {
  auto it = by_id.find(id);
  return it == by_id.end() ? nullptr : &steps[it->second];
}

const Step* Definition::find_path(std::string_view path) const {
  auto it = by_path.find(path);
  return it == by_path.end() ? nullptr : &steps[it->second];
}

bool Definition::decides(std::string_view type, std::string_view step) const {
  const Step* p = pivot_step();
  return p && type == events::kStepSucceeded && step == p->path;
}

bool is_decided(const Definition& def, const std::vector<JournalRecord>& timeline) {
  if (!def.pivot)
    return false;
  const auto pivot_at = std::find(def.root.begin(), def.root.end(), *def.pivot);
  bool decided = false;
  for (const JournalRecord& r : timeline) {
    if (def.decides(r.type, r.step)) {
      decided = true;
    } else if (decided && r.type == events::kRerunRequested) {
      // A rerun from the pivot or before it runs the pivot again; one from a later step not.
      const Step* from = def.find_path(r.step);
      decided = from && std::find(def.root.begin(), def.root.end(), from->index) > pivot_at;
    }
  }
  return decided;
}

Result<std::shared_ptr<const Definition>> parse_definition(const nlohmann::json& document,
                                                           const std::string& source) {
  if (auto limit = check_json_value_limits(document, kDefinitionJsonLimits))
    return Error::of(codes::kInvalidArgument, source + ": " + limit->message);
  try {
    return detail::parse_document(source, document);
  } catch (const detail::Invalid& e) {
    return Error::of(codes::kInvalidArgument, e.message);
  } catch (const std::exception& e) {
    return Error::of(codes::kInvalidArgument, source + ": " + e.what());
  }
}

Result<std::shared_ptr<const Definition>> parse_definition_text(std::string_view text,
                                                                const std::string& source) {
  if (auto limit = check_json_limits(text, kDefinitionJsonLimits))
    return Error::of(codes::kInvalidArgument, source + ": " + limit->message);
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& e) {
    return Error::of(codes::kInvalidArgument,
                     source + ": invalid JSON at byte " + std::to_string(e.byte));
  } catch (const json::exception&) {
    // A number too large for any JSON number type (out_of_range.406) is not a parse_error.
    return Error::of(codes::kInvalidArgument, source + ": invalid JSON (a number out of range)");
  }
  return parse_definition(doc, source);
}

Result<std::shared_ptr<const Definition>> load_definition_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in)
    return Error::of(codes::kNotFound, file.string() + ": cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_definition_text(text.str(), file.string());
}

Status DefinitionRegistry::add(std::shared_ptr<const Definition> definition) {
  if (!definition)
    return Error::of(codes::kInvalidArgument, "no definition");
  Status status = ok_status();
  std::unique_lock lock(mutex_);
  add_locked(std::move(definition), status);
  return status;
}

/// Registers a definition and the bodies of its map steps; the first refusal stays in `status`.
void DefinitionRegistry::add_locked(std::shared_ptr<const Definition> definition, Status& status) {
  auto& versions = defs_[definition->name];
  auto it = versions.find(definition->version);
  if (it != versions.end()) {
    if (it->second->digest != definition->digest && status) {
      status = Error::of(codes::kConflict, definition->source + ": " + definition->name +
                                               " version " + std::to_string(definition->version) +
                                               " is already registered with different content (" +
                                               it->second->source + ")");
    }
    return;
  }
  for (const auto& body : definition->bodies)
    add_locked(body, status);
  versions.emplace(definition->version, std::move(definition));
}

namespace {

/// The definition a workflow step starts, among `defs`; nullptr when none is registered.
const Definition* started_by(
    const std::map<std::string, std::map<int, std::shared_ptr<const Definition>>, std::less<>>&
        defs,
    const Step& step) {
  auto it = defs.find(step.definition);
  if (it == defs.end() || it->second.empty())
    return nullptr;
  if (step.version == 0)
    return it->second.rbegin()->second.get();
  auto v = it->second.find(step.version);
  return v == it->second.end() ? nullptr : v->second.get();
}

}  // namespace

Status DefinitionRegistry::check_references() const {
  std::shared_lock lock(mutex_);
  // Every workflow step's definition, then a depth-first walk that refuses a cycle.
  std::map<const Definition*, std::vector<std::pair<const Step*, const Definition*>>> edges;
  for (const auto& [name, versions] : defs_) {
    for (const auto& [version, def] : versions) {
      auto& out = edges[def.get()];
      for (const Step& step : def->steps) {
        if (step.kind == StepKind::kMap) {
          out.emplace_back(&step, step.body.get());
          continue;
        }
        if (step.kind != StepKind::kWorkflow)
          continue;
        const Definition* target = started_by(defs_, step);
        if (!target) {
          return Error::of(codes::kInvalidArgument,
                           def->source + ": step '" + step.id + "': field 'definition': no " +
                               "definition '" + step.definition + "'" +
                               (step.version ? " version " + std::to_string(step.version) : "") +
                               " is registered");
        }
        out.emplace_back(&step, target);
      }
    }
  }
  enum class Mark { kNone, kOpen, kDone };
  std::map<const Definition*, Mark> marks;
  std::function<std::optional<Error>(const Definition*)> visit =
      [&](const Definition* def) -> std::optional<Error> {
    marks[def] = Mark::kOpen;
    for (const auto& [step, target] : edges[def]) {
      Mark m = marks[target];
      if (m == Mark::kOpen) {
        return Error::of(codes::kInvalidArgument,
                         def->source + ": step '" + step->id +
                             "': field 'definition': " + target->name +
                             " would start itself again (a cycle of workflow steps)");
      }
      if (m == Mark::kNone) {
        if (auto e = visit(target))
          return e;
      }
    }
    marks[def] = Mark::kDone;
    return std::nullopt;
  };
  for (const auto& [def, out] : edges) {
    if (marks[def] == Mark::kNone) {
      if (auto e = visit(def))
        return *e;
    }
  }
  return ok_status();
}

Status DefinitionRegistry::load_file(const std::filesystem::path& file) {
  auto def = load_definition_file(file);
  if (!def)
    return def.error();
  return add(std::move(*def));
}

Result<std::size_t> DefinitionRegistry::load_directory(const std::filesystem::path& dir) {
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") {
      files.push_back(entry.path());
    }
  }
  if (ec)
    return Error::of(codes::kNotFound, dir.string() + ": " + ec.message());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    if (auto st = load_file(f); !st)
      return st.error();
  }
  if (auto st = check_references(); !st)
    return st.error();
  return files.size();
}

std::shared_ptr<const Definition> DefinitionRegistry::find(std::string_view name,
                                                           int version) const {
  std::shared_lock lock(mutex_);
  auto it = defs_.find(name);
  if (it == defs_.end())
    return nullptr;
  auto v = it->second.find(version);
  return v == it->second.end() ? nullptr : v->second;
}

std::shared_ptr<const Definition> DefinitionRegistry::latest(std::string_view name) const {
  std::shared_lock lock(mutex_);
  auto it = defs_.find(name);
  if (it == defs_.end() || it->second.empty())
    return nullptr;
  return it->second.rbegin()->second;
}

std::vector<std::shared_ptr<const Definition>> DefinitionRegistry::all() const {
  std::shared_lock lock(mutex_);
  std::vector<std::shared_ptr<const Definition>> out;
  for (const auto& [name, versions] : defs_) {
    for (const auto& [v, def] : versions)
      out.push_back(def);
  }
  return out;
}

}  // namespace wonderland::workflow
