// wonderland-logging: stores log records and workflow events as CSV, answers queries, feeds
// the live stream. Configuration: see ServiceOptions::from_env and WONDERLAND_AMQP_URL.
// Stops on SIGTERM or SIGINT after writing and acknowledging the records in progress.
#include <sys/stat.h>

#include <csignal>
#include <cstdlib>
#include <exception>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "wonderland/logging/service.hpp"
#include "wonderland/messaging/connection.hpp"

int main() {
  // The stored logs are private to the service's account: files 0600, directories 0700.
  ::umask(S_IRWXG | S_IRWXO);
  spdlog::set_default_logger(spdlog::stderr_color_mt("logging"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%-7l%$ logging %v", spdlog::pattern_time_type::utc);

  // Block the stop signals in every thread; this one waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  try {
    auto options = wonderland::logging::ServiceOptions::from_env();
    wonderland::logging::LoggingService service(
        wonderland::messaging::ConnectionOptions::from_env("logging"), options);
    const timespec report_every{60, 0};
    for (;;) {
      int sig = sigtimedwait(&stop_signals, nullptr, &report_every);
      if (sig == SIGTERM || sig == SIGINT) {
        spdlog::info("received {}; stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        break;
      }
      auto s = service.stats();
      spdlog::info("stored {} records and {} workflow events ({} batches, largest {}), {} queries, "
                   "{} live, {} live dropped, {} duplicates, {} write failures",
                   s.records, s.workflow_events, s.store.batches, s.store.largest_batch, s.queries,
                   s.live_published, s.live_dropped, s.duplicates, s.store_failures);
    }
    service.stop();
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return EXIT_FAILURE;
  }
  return EXIT_SUCCESS;
}
