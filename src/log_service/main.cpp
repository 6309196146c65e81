// wonderland-logging: stores log records and workflow events as CSV, answers queries, feeds
// the live stream. Configuration: see ServiceOptions::from_env and WONDERLAND_AMQP_URL.
// Stops on SIGTERM or SIGINT after writing and acknowledging the records in progress.
//
// Unlike the other services it does not use runtime::Service: its own lines go to stderr only,
// never to the logs exchange it consumes, and it opens its connections itself (service.hpp).
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <thread>

#include "wonderland/log/log.hpp"
#include "wonderland/log_service/service.hpp"
#include "wonderland/messaging/connection.hpp"
#include "wonderland/runtime/service.hpp"

namespace wonderland {
namespace {

/// Logs the service's counters every `interval` until destroyed.
class StatsReport {
 public:
  StatsReport(const log_service::LoggingService& service, std::chrono::seconds interval)
      : service_(service), interval_(interval), thread_([this] { run(); }) {}
  ~StatsReport() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    stop_cv_.notify_all();
    thread_.join();
  }
  StatsReport(const StatsReport&) = delete;
  StatsReport& operator=(const StatsReport&) = delete;

 private:
  void run() {
    std::unique_lock lock(mu_);
    while (!stop_cv_.wait_for(lock, interval_, [&] { return stopping_; })) {
      auto s = service_.stats();
      log::info(
          "stored {} records and {} workflow events ({} batches, largest {}), {} queries, "
          "{} live, {} live dropped, {} duplicates, {} write failures",
          s.records, s.workflow_events, s.store.batches, s.store.largest_batch, s.queries,
          s.live_published, s.live_dropped, s.duplicates, s.store_failures);
    }
  }

  const log_service::LoggingService& service_;
  std::chrono::seconds interval_;
  std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace
}  // namespace wonderland

int main() {
  namespace log = wonderland::log;
  namespace log_service = wonderland::log_service;
  namespace messaging = wonderland::messaging;
  namespace runtime = wonderland::runtime;
  return runtime::main_guard("logging", [] {
    runtime::block_shutdown_signals();  // before any thread starts: only the wait receives them
    log::Options log_options;
    log_options.service = "logging";
    log::init(log_options);
    log_service::LoggingService service(messaging::ConnectionOptions::from_env("logging"),
                                        log_service::ServiceOptions::from_env());
    {
      wonderland::StatsReport report(service, std::chrono::seconds(60));
      int sig = runtime::wait_for_shutdown();
      log::info("received {}; stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    }
    service.stop();
    return 0;
  });
}
