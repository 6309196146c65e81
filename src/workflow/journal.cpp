#include "wonderland/workflow/journal.hpp"

#include <algorithm>
#include <exception>
#include <future>

#include "wonderland/common/json_parse.hpp"
#include "wonderland/common/json_text.hpp"

namespace wonderland::workflow {

double CommitLatency::quantile(double q) const {
  if (count == 0)
    return 0;
  const double rank = q * static_cast<double>(count);
  double lower = 0;
  std::uint64_t below = 0;
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    if (static_cast<double>(at_most[i]) >= rank) {
      const std::uint64_t in_bucket = at_most[i] - below;
      const double share =
          in_bucket == 0 ? 1.0
                         : (rank - static_cast<double>(below)) / static_cast<double>(in_bucket);
      return lower + (kBuckets[i] - lower) * share;
    }
    lower = kBuckets[i];
    below = at_most[i];
  }
  return kBuckets.back();
}

CommitLatency CommitLatency::since(const CommitLatency& earlier) const {
  CommitLatency d;
  for (std::size_t i = 0; i < kBuckets.size(); ++i)
    d.at_most[i] = at_most[i] - earlier.at_most[i];
  d.count = count - earlier.count;
  d.sum_seconds = sum_seconds - earlier.sum_seconds;
  return d;
}

void CommitLatencyRecorder::record(std::chrono::steady_clock::duration took) {
  const auto ns =
      std::max<std::int64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(took).count(), 0);
  const double seconds = static_cast<double>(ns) / 1e9;
  const auto* bound =
      std::lower_bound(CommitLatency::kBuckets.begin(), CommitLatency::kBuckets.end(), seconds);
  const auto bucket = static_cast<std::size_t>(bound - CommitLatency::kBuckets.begin());
  in_bucket_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<std::uint64_t>(ns), std::memory_order_relaxed);
}

CommitLatency CommitLatencyRecorder::snapshot() const {
  CommitLatency s;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < in_bucket_.size(); ++i) {
    running += in_bucket_[i].load(std::memory_order_relaxed);
    if (i < s.at_most.size())
      s.at_most[i] = running;
  }
  s.count = running;
  s.sum_seconds = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  return s;
}

std::string_view to_string(WorkflowStatus status) {
  switch (status) {
    case WorkflowStatus::kRunning:
      return "running";
    case WorkflowStatus::kCompleted:
      return "completed";
    case WorkflowStatus::kFailed:
      return "failed";
    case WorkflowStatus::kCancelled:
      return "cancelled";
    case WorkflowStatus::kNeedsAttention:
      return "needs_attention";
  }
  return "running";
}

std::optional<WorkflowStatus> parse_status(std::string_view text) {
  for (auto s : {WorkflowStatus::kRunning, WorkflowStatus::kCompleted, WorkflowStatus::kFailed,
                 WorkflowStatus::kCancelled, WorkflowStatus::kNeedsAttention}) {
    if (to_string(s) == text)
      return s;
  }
  return std::nullopt;
}

std::string failing_step(const WorkflowHistory& workflow) {
  const bool failed = workflow.summary.status == WorkflowStatus::kFailed;
  if (!failed && workflow.summary.status != WorkflowStatus::kNeedsAttention)
    return "";
  const std::string_view type = failed ? events::kFailed : events::kCompensationFailed;
  for (auto it = workflow.records.rbegin(); it != workflow.records.rend(); ++it) {
    if (it->type != type)
      continue;
    if (!failed)
      return it->step;
    auto step = it->data.find("step");
    return step != it->data.end() && step->is_string() ? step->get<std::string>() : "";
  }
  return "";
}

Result<std::int64_t> page_position(const WorkflowQuery& query) {
  if (query.limit < 1 || query.limit > 1000)
    return Error::of(codes::kInvalidArgument, "limit must be between 1 and 1000");
  if (query.page_token.empty())
    return std::int64_t{0};
  std::int64_t before = 0;
  try {
    before = std::stoll(query.page_token);
  } catch (const std::exception&) {
    return Error::of(codes::kInvalidArgument, "bad page token");
  }
  if (before <= 0)
    return Error::of(codes::kInvalidArgument, "bad page token");
  return before;
}

void append_archived_record(std::string& out, const JournalRecord& r, std::string_view data_json) {
  out += out.size() > 1 ? ",{\"seq\":" : "{\"seq\":";
  out += std::to_string(r.seq) + ",\"type\":";
  append_json_string(out, r.type);
  if (!r.step.empty()) {
    out += ",\"step\":";
    append_json_string(out, r.step);
  }
  if (r.attempt != 0)
    out += ",\"attempt\":" + std::to_string(r.attempt);
  out += ",\"at\":";
  append_json_string(out, r.at);
  if (r.status) {
    out += ",\"status\":";
    append_json_string(out, to_string(*r.status));
  }
  out += ",\"data\":";
  out += data_json;
  out += '}';
}

std::string archived_history_json(const std::vector<JournalRecord>& records) {
  std::string out = "[";
  for (const JournalRecord& r : records)
    append_archived_record(out, r, to_json_text(r.data));
  out += ']';
  return out;
}

namespace {

/// One record of an archived history document; nullopt when it is not one.
std::optional<JournalRecord> archived_record(const std::string& workflow_id,
                                             const nlohmann::json& item) {
  if (!item.is_object() || !item.contains("seq") || !item["seq"].is_number_integer())
    return std::nullopt;
  JournalRecord r;
  r.workflow_id = workflow_id;
  r.seq = item["seq"].get<std::int64_t>();
  r.type = item.value("type", std::string{});
  r.step = item.value("step", std::string{});
  r.attempt = item.value("attempt", 0);
  r.at = item.value("at", std::string{});
  if (auto status = item.find("status"); status != item.end() && status->is_string())
    r.status = parse_status(status->get_ref<const std::string&>());
  if (auto data = item.find("data"); data != item.end())
    r.data = *data;
  return r;
}

}  // namespace

Result<std::vector<JournalRecord>> parse_archived_history(const std::string& workflow_id,
                                                          std::string_view document) {
  const auto bad = [&] {
    return Error::of(codes::kInternal, "archived history of " + workflow_id + " is not valid");
  };
  nlohmann::json parsed = parse_stored_json(document);
  if (parsed.is_discarded() || !parsed.is_array())
    return bad();
  std::vector<JournalRecord> records;
  records.reserve(parsed.size());
  for (const auto& item : parsed) {
    auto r = archived_record(workflow_id, item);
    if (!r)
      return bad();
    records.push_back(std::move(*r));
  }
  return records;
}

Status Journal::append_and_wait(RecordBatch records) {
  std::promise<Status> done;
  auto result = done.get_future();
  append(std::move(records), [&done](Status st) { done.set_value(std::move(st)); });
  return result.get();
}

void MemoryJournal::append(RecordBatch records, AppendCallback done) {
  {
    const auto began = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    for (const JournalRecord& r : *records) {
      auto it = workflows_.find(r.workflow_id);
      if (r.type == events::kStarted && it == workflows_.end()) {
        WorkflowHistory h;
        h.summary.id = r.workflow_id;
        h.summary.definition = r.data.value("definition", std::string{});
        h.summary.version = r.data.value("version", 0);
        h.summary.created_at = r.at;
        h.summary.updated_at = r.at;
        it = workflows_.emplace(r.workflow_id, std::move(h)).first;
        order_.push_back(r.workflow_id);
      }
      if (it == workflows_.end())
        continue;
      if (r.status) {
        it->second.summary.status = *r.status;
        auto reason = r.data.find("reason");
        it->second.summary.reason =
            reason != r.data.end() && reason->is_string() ? reason->get<std::string>() : "";
        it->second.summary.updated_at = r.at;
      }
      it->second.records.push_back(r);
    }
    stats_.appends += 1;
    stats_.records += records->size();
    stats_.commits += 1;
    commit_latency_.record(std::chrono::steady_clock::now() - began);
  }
  done(ok_status());
}

Result<std::vector<WorkflowHistory>> MemoryJournal::load_unfinished() {
  std::lock_guard lock(mutex_);
  std::vector<WorkflowHistory> out;
  for (const std::string& id : order_) {
    const auto& h = workflows_.at(id);
    if (h.summary.status == WorkflowStatus::kRunning)
      out.push_back(h);
  }
  return out;
}

Result<WorkflowHistory> MemoryJournal::history(const std::string& workflow_id) {
  std::lock_guard lock(mutex_);
  auto it = workflows_.find(workflow_id);
  if (it == workflows_.end())
    return Error::of(codes::kNotFound, "no workflow " + workflow_id);
  return it->second;
}

Result<std::optional<WorkflowSummary>> MemoryJournal::find(const std::string& workflow_id) {
  std::lock_guard lock(mutex_);
  auto it = workflows_.find(workflow_id);
  if (it == workflows_.end())
    return std::optional<WorkflowSummary>{};
  return std::optional<WorkflowSummary>{it->second.summary};
}

Result<WorkflowPage> MemoryJournal::list(const WorkflowQuery& query) {
  if (query.limit < 1 || query.limit > 1000) {
    return Error::of(codes::kInvalidArgument, "limit must be between 1 and 1000");
  }
  std::lock_guard lock(mutex_);
  std::size_t end = order_.size();
  if (!query.page_token.empty()) {
    try {
      end = std::min<std::size_t>(end, std::stoull(query.page_token));
    } catch (const std::exception&) {
      return Error::of(codes::kInvalidArgument, "bad page token");
    }
  }
  WorkflowPage page;
  std::size_t i = std::min(end, order_.size());
  while (i > 0 && page.items.size() < query.limit) {
    --i;
    const WorkflowHistory& h = workflows_.at(order_[i]);
    const WorkflowSummary& s = h.summary;
    if (query.status && s.status != *query.status)
      continue;
    if (query.definition && s.definition != *query.definition)
      continue;
    if (query.version && s.version != *query.version)
      continue;
    if (query.created_from && s.created_at < *query.created_from)
      continue;
    if (query.created_to && !(s.created_at < *query.created_to))
      continue;
    if (query.failing_step && failing_step(h) != *query.failing_step)
      continue;
    page.items.push_back(s);
  }
  if (page.items.size() == query.limit && i > 0)
    page.next_page_token = std::to_string(i);
  return page;
}

Result<std::vector<VersionCount>> MemoryJournal::running_by_version() {
  std::lock_guard lock(mutex_);
  std::map<std::pair<std::string, int>, std::int64_t> counts;
  for (const auto& [id, w] : workflows_) {
    if (w.summary.status == WorkflowStatus::kRunning)
      ++counts[{w.summary.definition, w.summary.version}];
  }
  std::vector<VersionCount> out;
  out.reserve(counts.size());
  for (const auto& [key, n] : counts)
    out.push_back({key.first, key.second, n});
  return out;
}

JournalStats MemoryJournal::stats() const {
  std::lock_guard lock(mutex_);
  JournalStats s = stats_;
  s.commit_latency = commit_latency_.snapshot();
  return s;
}

}  // namespace wonderland::workflow
