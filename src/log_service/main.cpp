// wonderland-logging: stores log records and workflow events as CSV, answers queries, feeds
// the live stream. Configuration: see ServiceOptions::from_env and WONDERLAND_AMQP_URL.
// Stops on SIGTERM or SIGINT after writing and acknowledging the records in progress.
//
// Unlike the other services it does not use runtime::Service: its own lines go to stderr only,
// never to the logs exchange it consumes, and it opens its connections itself (service.hpp).
#include <chrono>
#include <csignal>

#include "wonderland/log/log.hpp"
#include "wonderland/log_service/service.hpp"
#include "wonderland/messaging/connection.hpp"
#include "wonderland/runtime/periodic.hpp"
#include "wonderland/runtime/service.hpp"

namespace wonderland {
namespace {

/// Logs the service's counters.
void report_stats(const log_service::LoggingService& service) {
  auto s = service.stats();
  log::info(
      "stored {} records and {} workflow events ({} batches, largest {}), {} queries, "
      "{} live, {} live dropped, {} duplicates, {} write failures",
      s.records, s.workflow_events, s.store.batches, s.store.largest_batch, s.queries,
      s.live_published, s.live_dropped, s.duplicates, s.store_failures);
}

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
    log_options.broker = log::ForwarderOptions::from_env();  // records batched per message
    log::init(log_options);
    log_service::LoggingService service(messaging::ConnectionOptions::from_env("logging"),
                                        log_service::ServiceOptions::from_env());
    {
      runtime::Periodic report("stats report", std::chrono::seconds(60),
                               [&service] { wonderland::report_stats(service); });
      int sig = runtime::wait_for_shutdown();
      log::info("received {}; stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    }
    service.stop();
    return 0;
  });
}
