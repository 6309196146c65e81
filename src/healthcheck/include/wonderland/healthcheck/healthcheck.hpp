// wonderland-healthcheck: a container health command. It asks the broker whether every named
// queue exists and has a consumer, and/or asks an HTTP endpoint (the mediator's /readyz) for a
// 200, within one time budget.
//
//   wonderland-healthcheck inventory.commands                        # a service's container
//   wonderland-healthcheck --http http://127.0.0.1:8080/readyz       # the mediator's
//
// The broker connection is configured as every service's is (WONDERLAND_AMQP_URL, a list of
// cluster nodes or one node, TLS settings: messaging::ConnectionOptions::from_env). Exit status
// 0 when everything checked is healthy; otherwise 1 with one line on stderr naming what is not
// (a queue with no consumer, a missing queue, an unreachable broker, an HTTP status).
#pragma once

#include <chrono>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wonderland/common/error.hpp"
#include "wonderland/messaging/connection.hpp"

namespace wonderland::healthcheck {

using Clock = std::chrono::steady_clock;

/// Exit statuses: healthy, and everything else (unhealthy, or the command line is wrong).
inline constexpr int kHealthy = 0;
inline constexpr int kUnhealthy = 1;

struct Options {
  std::vector<std::string> queues;          ///< each must exist and have a consumer
  std::vector<std::string> http_urls;       ///< each must answer GET with 200
  std::chrono::milliseconds timeout{3000};  ///< for everything together
};

/// The command line read: options to check, or (help or a usage error printed) the exit status.
struct Parsed {
  std::optional<Options> options;
  int exit_status = kHealthy;
};
/// Parses `wonderland-healthcheck [--timeout-ms N] [--http URL]... [QUEUE]...`; `--help` goes to
/// `out`, usage errors to `err`. Nothing to check is a usage error.
Parsed parse_arguments(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

/// The queues each service consumes under their default names (no WONDERLAND_QUEUE_PREFIX or
/// WONDERLAND_<SERVICE>_QUEUE), for --help and the README.
struct ServiceQueues {
  std::string service;
  std::vector<std::string> queues;
};
const std::vector<ServiceQueues>& service_queues();

/// An `http://host[:port]/path` URL (no TLS, no credentials).
struct HttpUrl {
  std::string host;  ///< without the brackets of an IPv6 address
  std::string port = "80";
  std::string target = "/";  ///< path and query
};
/// `invalid_argument` naming what is wrong.
Result<HttpUrl> parse_http_url(std::string_view url);

/// Whether every queue exists and has a consumer, asked over one connection made with `broker`
/// before `deadline`. Returns one phrase per problem (empty: healthy). `last_broker_log` (may be
/// empty) gives what the connection last logged, appended when the broker cannot be reached.
std::vector<std::string> check_queues(const std::vector<std::string>& queues,
                                      messaging::ConnectionOptions broker,
                                      Clock::time_point deadline,
                                      const std::function<std::string()>& last_broker_log = {});

/// GET `url` before `deadline`: nullopt on a 200, else a phrase saying what came back.
std::optional<std::string> check_http(const std::string& url, Clock::time_point deadline);

/// The whole command: parses, checks (broker settings from the environment), prints the one
/// line of an unhealthy verdict to `err`; returns the exit status.
int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace wonderland::healthcheck
