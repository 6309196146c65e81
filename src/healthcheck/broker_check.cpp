// The broker side of the health check: every named queue exists and has a consumer.
#include <algorithm>

#include "wonderland/healthcheck/healthcheck.hpp"

namespace wonderland::healthcheck {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kMinConnectTimeout{200};
constexpr milliseconds kMinWait{1};

milliseconds left(Clock::time_point deadline) {
  return std::max(kMinWait, std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
}

/// `amqp://user:password@host:port/vhost` without its user and password.
std::string without_credentials(const std::string& url) {
  const auto scheme = url.find("://");
  const std::size_t from = scheme == std::string::npos ? 0 : scheme + 3;
  const auto at = url.find('@', from);
  if (at == std::string::npos || url.find('/', from) < at)
    return url;
  return url.substr(0, from) + url.substr(at + 1);
}

std::string describe(const std::string& queue, const Error& error) {
  switch (error.code) {
    case Code::kNotFound:
      return "queue '" + queue + "' does not exist";
    case Code::kDeadlineExceeded:
      return "queue '" + queue + "': no answer from the broker in time";
    default:
      return "queue '" + queue + "': " + error.message;
  }
}

}  // namespace

std::vector<std::string> check_queues(const std::vector<std::string>& queues,
                                      messaging::ConnectionOptions broker,
                                      Clock::time_point deadline,
                                      const std::function<std::string()>& last_broker_log) {
  const std::vector<std::string> nodes = messaging::split_amqp_urls(broker.url);
  broker.service = "healthcheck";
  broker.publisher_confirms = false;
  // Room for each node of a cluster to be tried once (the next one when one does not answer),
  // and for the connection to give up within about the budget.
  broker.connect_timeout =
      std::max(kMinConnectTimeout, left(deadline) / static_cast<int>(nodes.size() + 2));
  broker.reconnect_min_backoff = milliseconds(50);
  broker.reconnect_max_backoff = milliseconds(250);
  messaging::Connection connection(broker);
  if (!connection.wait_connected(left(deadline))) {
    std::string where;
    for (const std::string& node : nodes)
      where += (where.empty() ? "" : ", ") + without_credentials(node);
    std::string why = "broker unreachable (" + where + ")";
    if (std::string last = last_broker_log ? last_broker_log() : std::string(); !last.empty())
      why += ": " + last;
    return {why};
  }
  std::vector<std::string> problems;
  for (const std::string& queue : queues) {
    Result<messaging::QueueStatus> status =
        connection.queue_status(messaging::QueueName{queue}, left(deadline));
    if (!status.ok()) {
      problems.push_back(describe(queue, status.error()));
    } else if (status->consumers == 0) {
      problems.push_back("queue '" + queue + "' has no consumer (" +
                         std::to_string(status->messages) + " message(s) waiting)");
    }
  }
  return problems;
}

}  // namespace wonderland::healthcheck
