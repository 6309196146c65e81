#include "log_hub.hpp"

#include <map>

#include "context.hpp"
#include "wonderland/http/fields.hpp"
#include "wonderland/log/log.hpp"

namespace wonderland::mediator {

LogHub::~LogHub() {
  std::unique_ptr<log_service::LiveSubscription> subscription;
  {
    std::lock_guard lock(mu_);
    subscription = std::move(subscription_);
  }
}

void LogHub::ensure_subscribed() {
  std::lock_guard lock(mu_);
  if (subscription_)
    return;
  std::weak_ptr<LogHub> weak = weak_from_this();
  log_service::LiveOptions options;
  options.queue_prefix = "mediator.live";
  subscription_ = std::make_unique<log_service::LiveSubscription>(
      connection_, log_store::Filter{},
      [weak](const log_store::Record& record) {
        if (auto self = weak.lock())
          self->deliver(record);
      },
      options);
}

void LogHub::add(const std::shared_ptr<http::EventStream>& stream, log_store::Filter filter) {
  ensure_subscribed();
  std::uint64_t id = 0;
  {
    std::lock_guard lock(mu_);
    id = next_id_++;
    streams_.emplace(id, std::make_pair(stream, std::move(filter)));
  }
  std::weak_ptr<LogHub> weak = weak_from_this();
  stream->on_close([weak, id] {
    if (auto self = weak.lock()) {
      std::lock_guard lock(self->mu_);
      self->streams_.erase(id);
    }
  });
}

std::size_t LogHub::size() const {
  std::lock_guard lock(mu_);
  return streams_.size();
}

void LogHub::deliver(const log_store::Record& record) {
  std::vector<std::shared_ptr<http::EventStream>> targets;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, entry] : streams_) {
      if (entry.second.matches(record))
        targets.push_back(entry.first);
    }
  }
  if (targets.empty())
    return;
  nlohmann::json body = log_store::to_json(record);
  for (auto& stream : targets)
    stream->send_json("log", body);
}

/// Translates the public parameter names (`level`: at least this severity, `q`: text) to the
/// log store's, keeping the store's own names working too.
namespace {

/// The query parameters of /api/logs and /api/logs/stream, and the filter field each sets.
constexpr std::pair<const char*, const char*> kLogParams[] = {{"service", "service"},
                                                              {"level", "min_severity"},
                                                              {"severity", "severity"},
                                                              {"min_severity", "min_severity"},
                                                              {"correlation_id", "correlation_id"},
                                                              {"q", "text"},
                                                              {"text", "text"},
                                                              {"since", "since"},
                                                              {"until", "until"},
                                                              {"limit", "limit"},
                                                              {"cursor", "cursor"}};

}  // namespace

std::map<std::string, std::string> log_filter_params(const http::Request& req) {
  std::map<std::string, std::string> params;
  for (const auto& [from, to] : kLogParams) {
    if (auto v = req.query(from); v && !v->empty())
      params[to] = std::string(*v);
  }
  return params;
}

Error log_filter_error(const http::Request& req, Error e) {
  for (auto& f : e.fields) {
    for (const auto& [from, to] : kLogParams) {
      if (f.field == to && req.query(from)) {
        f.field = from;
        break;
      }
    }
  }
  return e;
}

void start_log_stream(Context& ctx, const http::Request& req, const http::Responder& r) {
  auto filter = log_store::Filter::from_params(log_filter_params(req));
  if (!filter.ok())
    return void(r.respond(log_filter_error(req, filter.error())));
  try {
    auto stream = r.start_events();
    stream->comment("wonderland live logs");
    ctx.log_hub->add(stream, std::move(filter.value()));
  } catch (const std::exception& e) {
    log::warn("cannot follow the live log feed: {}", e.what());
    r.respond(Error::of(codes::kUnavailable, "the live log feed is unavailable"));
  }
}

}  // namespace wonderland::mediator
