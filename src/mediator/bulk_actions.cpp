#include "wonderland/mediator/bulk_actions.hpp"

#include <condition_variable>
#include <thread>
#include <utility>

#include "wonderland/common/ids.hpp"
#include "wonderland/common/time.hpp"
#include "wonderland/log/log.hpp"
#include "workflow_filter.hpp"

namespace wonderland::mediator {

using Json = nlohmann::json;

namespace {

constexpr std::size_t kPageSize = 1000;

/// Whether a refusal means the action does not apply to the workflow (as it is now).
bool is_skip(Code code) {
  return code == codes::kNotFound || code == codes::kFailedPrecondition || code == codes::kConflict;
}

}  // namespace

std::string_view to_string(BulkAction action) {
  switch (action) {
    case BulkAction::kRetry:
      return "retry";
    case BulkAction::kCancel:
      return "cancel";
    case BulkAction::kPause:
      return "pause";
    case BulkAction::kResume:
      return "resume";
  }
  return "retry";
}

std::optional<BulkAction> parse_bulk_action(std::string_view text) {
  for (auto a :
       {BulkAction::kRetry, BulkAction::kCancel, BulkAction::kPause, BulkAction::kResume}) {
    if (to_string(a) == text)
      return a;
  }
  return std::nullopt;
}

struct BulkActions::Job {
  // Set once, before the thread starts.
  std::string id;
  BulkAction action = BulkAction::kRetry;
  Json filter;
  std::string reason;
  std::vector<std::string> ids;
  std::string started_at;
  std::size_t kept_reasons = 0;

  mutable std::mutex mutex;
  std::condition_variable answered;
  std::size_t in_flight = 0;
  std::size_t done = 0;
  std::size_t succeeded = 0;
  std::size_t failed = 0;
  std::size_t skipped = 0;
  Json reasons = Json::array();
  bool finished = false;
  std::string finished_at;

  std::thread thread;

  /// Runs where the last reference goes: a job forgotten while its thread ends joins it, one
  /// whose thread holds the last reference lets it end by itself.
  ~Job() {
    if (!thread.joinable())
      return;
    if (thread.get_id() == std::this_thread::get_id()) {
      thread.detach();
    } else {
      thread.join();
    }
  }

  /// One workflow's answer.
  void record(const std::string& workflow_id, const wonderland::Status& st) {
    std::lock_guard lock(mutex);
    ++done;
    --in_flight;
    if (st.ok()) {
      ++succeeded;
    } else {
      const bool skip = is_skip(st.error().code);
      ++(skip ? skipped : failed);
      if (reasons.size() < kept_reasons) {
        reasons.push_back({{"id", workflow_id},
                           {"outcome", skip ? "skipped" : "failed"},
                           {"code", std::string(wonderland::to_string(st.error().code))},
                           {"message", st.error().message}});
      }
    }
    answered.notify_all();
  }

  Json view() const {
    std::lock_guard lock(mutex);
    return Json{{"id", id},
                {"action", std::string(to_string(action))},
                {"filter", filter},
                {"matched", ids.size()},
                {"done", done},
                {"succeeded", succeeded},
                {"failed", failed},
                {"skipped", skipped},
                {"reasons", reasons},
                {"state", finished ? "finished" : "running"},
                {"started_at", started_at},
                {"finished_at", finished ? Json(finished_at) : Json(nullptr)}};
  }
};

BulkActions::BulkActions(Lister list, Submitter submit, BulkOptions options)
    : list_(std::move(list)), submit_(std::move(submit)), options_(options) {}

BulkActions::~BulkActions() {
  stopping_ = true;
  std::deque<std::shared_ptr<Job>> jobs;
  {
    std::lock_guard lock(mutex_);
    jobs.swap(jobs_);
  }
  for (auto& job : jobs) {
    if (job->thread.joinable())
      job->thread.join();
  }
}

Result<std::vector<std::string>> BulkActions::match(workflow::WorkflowQuery filter) const {
  filter.limit = kPageSize;
  filter.page_token.clear();
  std::vector<std::string> ids;
  while (true) {
    auto page = list_(filter);
    if (!page.ok())
      return page.error();
    for (const auto& w : page.value().items)
      ids.push_back(w.id);
    if (ids.size() > options_.max_matched) {
      return Error::of(codes::kInvalidArgument, "the filter matches more than " +
                                                    std::to_string(options_.max_matched) +
                                                    " workflows; narrow it");
    }
    if (page.value().next_page_token.empty())
      return ids;
    filter.page_token = page.value().next_page_token;
  }
}

Result<Json> BulkActions::start(BulkAction action, const workflow::WorkflowQuery& filter,
                                std::vector<std::string> ids, std::string reason) {
  auto job = std::make_shared<Job>();
  job->id = "bulk-" + new_uuid();
  job->action = action;
  job->filter = filter_json(filter);
  job->reason = std::move(reason);
  job->ids = std::move(ids);
  job->started_at = now_iso8601();
  job->kept_reasons = options_.kept_reasons;
  std::lock_guard lock(mutex_);
  std::size_t running = 0;
  for (const auto& j : jobs_) {
    std::lock_guard job_lock(j->mutex);
    running += j->finished ? 0 : 1;
  }
  if (running >= options_.max_running) {
    return Error::of(codes::kResourceExhausted,  // retryable
                     std::to_string(running) +
                         " bulk jobs are running, as many as may run at once; try again once one "
                         "has finished");
  }
  // Forget the oldest finished jobs (their threads have ended or are about to).
  for (auto it = jobs_.begin(); jobs_.size() >= options_.max_kept && it != jobs_.end();) {
    bool finished = false;
    {
      std::lock_guard job_lock((*it)->mutex);
      finished = (*it)->finished;
    }
    it = finished ? jobs_.erase(it) : std::next(it);
  }
  jobs_.push_back(job);
  log::info("bulk job {}: {} of {} workflow(s) matching {}", job->id, to_string(action),
            job->ids.size(), job->filter.dump());
  job->thread = std::thread([this, job] { run(job); });
  return job->view();
}

void BulkActions::run(const std::shared_ptr<Job>& job) {
  for (const std::string& id : job->ids) {
    if (stopping_)
      break;
    {
      std::unique_lock lock(job->mutex);
      job->answered.wait(lock, [&] { return job->in_flight < options_.in_flight; });
      ++job->in_flight;
    }
    submit_(job->action, id, job->reason,
            [job, id](const wonderland::Status& st) { job->record(id, st); });
  }
  std::unique_lock lock(job->mutex);
  job->answered.wait(lock, [&] { return job->in_flight == 0; });
  job->finished = true;
  job->finished_at = now_iso8601();
  log::info("bulk job {}: finished; {} succeeded, {} skipped, {} failed", job->id, job->succeeded,
            job->skipped, job->failed);
}

std::optional<Json> BulkActions::job(const std::string& id) const {
  std::lock_guard lock(mutex_);
  for (const auto& j : jobs_) {
    if (j->id == id)
      return j->view();
  }
  return std::nullopt;
}

Json BulkActions::jobs() const {
  std::lock_guard lock(mutex_);
  Json out = Json::array();
  for (auto it = jobs_.rbegin(); it != jobs_.rend(); ++it)
    out.push_back((*it)->view());
  return out;
}

}  // namespace wonderland::mediator
