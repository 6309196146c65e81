// The command line of wonderland-healthcheck: arguments, the verdict and its one line.
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <ostream>
#include <stdexcept>

#include "wonderland/customer/protocol.hpp"
#include "wonderland/healthcheck/healthcheck.hpp"
#include "wonderland/inventory/protocol.hpp"
#include "wonderland/notification/protocol.hpp"
#include "wonderland/payment/protocol.hpp"

namespace wonderland::healthcheck {
namespace {

constexpr int kMaxTimeoutMs = 600'000;

std::string footer() {
  std::string text =
      "Queues each service consumes, by their default names (WONDERLAND_<SERVICE>_QUEUE and\n"
      "WONDERLAND_QUEUE_PREFIX rename them), and the mediator's check:\n";
  for (const ServiceQueues& s : service_queues()) {
    text += "  " + s.service + std::string(14 - s.service.size(), ' ');
    for (const std::string& q : s.queues)
      text += " " + q;
    text += "\n";
  }
  text +=
      "  mediator       --http http://127.0.0.1:8080/readyz\n"
      "The broker connection is set up as the services' is: WONDERLAND_AMQP_URL (one URL or the\n"
      "comma-separated nodes of a cluster), WONDERLAND_AMQP_CACERT, WONDERLAND_AMQP_CERT,\n"
      "WONDERLAND_AMQP_KEY, WONDERLAND_AMQP_TLS_VERIFY. Exit status: 0 when every queue exists\n"
      "and has a consumer and every URL answers 200; 1 otherwise, with one line on stderr.";
  return text;
}

/// Keeps what the broker connection logs (warnings and worse) instead of printing it, so that
/// the verdict stays one line; the last of it says why the broker could not be reached.
class CapturedLog {
 public:
  CapturedLog()
      : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(8)),
        previous_(spdlog::default_logger()) {
    sink_->set_pattern("%v");
    auto logger = std::make_shared<spdlog::logger>("healthcheck", sink_);
    logger->set_level(spdlog::level::warn);
    spdlog::set_default_logger(logger);
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;

  std::string last() const {
    std::vector<std::string> lines = sink_->last_formatted(1);
    std::string line = lines.empty() ? std::string() : lines.front();
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
      line.pop_back();
    return line;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

}  // namespace

const std::vector<ServiceQueues>& service_queues() {
  static const std::vector<ServiceQueues> list{
      {"logging", {"logging.records", "logging.workflow", "logging.query"}},
      {"inventory", {inventory::kCommandQueue.str()}},
      {"customer", {customer::kCommandQueue.str()}},
      {"payment", {payment::kCommandQueue.str()}},
      {"notification", {notification::kEventsQueue.str(), notification::kCommandQueue.str()}},
  };
  return list;
}

Parsed parse_arguments(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  CLI::App app{
      "Checks that every QUEUE exists on the broker and has a consumer, and that every --http "
      "URL answers 200: a container health command.",
      "wonderland-healthcheck"};
  Options options;
  int timeout_ms = static_cast<int>(options.timeout.count());
  app.add_option("--timeout-ms", timeout_ms, "time for all the checks together")
      ->check(CLI::Range(1, kMaxTimeoutMs))
      ->capture_default_str();
  app.add_option("--http", options.http_urls,
                 "GET this plain-HTTP URL and require 200, e.g. http://127.0.0.1:8080/readyz "
                 "(repeatable)")
      ->type_name("URL")
      ->allow_extra_args(false);
  app.add_option("QUEUE", options.queues, "queues that must exist and have a consumer")
      ->type_name("");
  app.footer(footer());
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int status = app.exit(e, out, err);
    return Parsed{std::nullopt, status == 0 ? kHealthy : kUnhealthy};
  }
  auto usage = [&err](const std::string& what) {
    err << "wonderland-healthcheck: " << what << " (--help)\n";
    return Parsed{std::nullopt, kUnhealthy};
  };
  if (options.queues.empty() && options.http_urls.empty())
    return usage("nothing to check: name queues, or --http URL");
  for (const std::string& url : options.http_urls) {
    if (auto parsed = parse_http_url(url); !parsed.ok())
      return usage(parsed.error().message);
  }
  options.timeout = std::chrono::milliseconds(timeout_ms);
  return Parsed{std::move(options), kHealthy};
}

int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  Parsed parsed = parse_arguments(argc, argv, out, err);
  if (!parsed.options)
    return parsed.exit_status;
  const Options& options = *parsed.options;
  const Clock::time_point deadline = Clock::now() + options.timeout;
  std::vector<std::string> problems;
  for (const std::string& url : options.http_urls) {
    if (auto problem = check_http(url, deadline))
      problems.push_back(*problem);
  }
  if (!options.queues.empty()) {
    CapturedLog log;
    try {
      auto broker = messaging::ConnectionOptions::from_env("healthcheck");
      auto found =
          check_queues(options.queues, std::move(broker), deadline, [&log] { return log.last(); });
      problems.insert(problems.end(), found.begin(), found.end());
    } catch (const std::invalid_argument& e) {
      problems.emplace_back(e.what());  // a malformed WONDERLAND_AMQP_* setting
    }
  }
  if (problems.empty())
    return kHealthy;
  std::string line;
  for (const std::string& p : problems)
    line += (line.empty() ? "" : "; ") + p;
  err << "wonderland-healthcheck: unhealthy: " << line << "\n";
  return kUnhealthy;
}

}  // namespace wonderland::healthcheck
