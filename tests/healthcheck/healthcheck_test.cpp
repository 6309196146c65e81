// wonderland-healthcheck's command line, URL parsing and HTTP check (no broker needed).
#include "wonderland/healthcheck/healthcheck.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sstream>

#include "wonderland/http/server.hpp"
#include "wonderland/log_service/service.hpp"

namespace wonderland::healthcheck {
namespace {

using namespace std::chrono_literals;

struct Parse {
  Parsed parsed;
  std::string out;
  std::string err;
};

Parse parse(std::vector<std::string> args) {
  args.insert(args.begin(), "wonderland-healthcheck");
  std::vector<const char*> argv;
  for (const auto& a : args)
    argv.push_back(a.c_str());
  std::ostringstream out;
  std::ostringstream err;
  Parsed parsed = parse_arguments(static_cast<int>(argv.size()), argv.data(), out, err);
  return {std::move(parsed), out.str(), err.str()};
}

TEST(HealthcheckArguments, QueuesHttpUrlsAndTimeout) {
  Parse r = parse({"--timeout-ms", "1500", "--http", "http://127.0.0.1:8080/readyz",
                   "inventory.commands", "payment.commands"});
  ASSERT_TRUE(r.parsed.options.has_value()) << r.err;
  EXPECT_EQ(r.parsed.options->timeout, 1500ms);
  EXPECT_EQ(r.parsed.options->http_urls, std::vector<std::string>{"http://127.0.0.1:8080/readyz"});
  EXPECT_EQ(r.parsed.options->queues,
            (std::vector<std::string>{"inventory.commands", "payment.commands"}));

  Parse defaults = parse({"logging.records"});
  ASSERT_TRUE(defaults.parsed.options.has_value()) << defaults.err;
  EXPECT_EQ(defaults.parsed.options->timeout, 3000ms);
  EXPECT_TRUE(defaults.parsed.options->http_urls.empty());
}

TEST(HealthcheckArguments, HelpListsEveryServiceQueueAndExitsZero) {
  Parse r = parse({"--help"});
  EXPECT_FALSE(r.parsed.options.has_value());
  EXPECT_EQ(r.parsed.exit_status, kHealthy);
  for (const ServiceQueues& s : service_queues()) {
    EXPECT_NE(r.out.find(s.service), std::string::npos) << s.service;
    for (const std::string& q : s.queues)
      EXPECT_NE(r.out.find(q), std::string::npos) << q << " missing from:\n" << r.out;
  }
  EXPECT_NE(r.out.find("--http http://127.0.0.1:8080/readyz"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--timeout-ms"), std::string::npos) << r.out;
}

TEST(HealthcheckArguments, TheLoggingQueuesAreTheServicesOwn) {
  const log_service::ServiceOptions logging;
  const ServiceQueues& listed = service_queues().front();
  ASSERT_EQ(listed.service, "logging");
  EXPECT_EQ(listed.queues, (std::vector<std::string>{logging.topology.records_queue.str(),
                                                     logging.topology.workflow_queue.str(),
                                                     logging.topology.query_queue.str()}));
}

TEST(HealthcheckArguments, UsageErrorsExitOneWithAMessage) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{},
                                             {"--timeout-ms", "0", "q"},
                                             {"--timeout-ms", "soon", "q"},
                                             {"--http", "https://127.0.0.1/readyz"},
                                             {"--http", "http://127.0.0.1:99999/readyz"},
                                             {"--bogus", "q"}}) {
    Parse r = parse(args);
    std::string shown;
    for (const auto& a : args)
      shown += a + " ";
    EXPECT_FALSE(r.parsed.options.has_value()) << shown;
    EXPECT_EQ(r.parsed.exit_status, kUnhealthy) << shown;
    EXPECT_FALSE(r.err.empty()) << shown;
  }
  EXPECT_NE(parse({}).err.find("nothing to check"), std::string::npos);
}

TEST(HealthcheckHttpUrl, HostPortAndTarget) {
  auto a = parse_http_url("http://127.0.0.1:8080/readyz");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, "8080");
  EXPECT_EQ(a->target, "/readyz");
  auto b = parse_http_url("http://mediator");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "mediator");
  EXPECT_EQ(b->port, "80");
  EXPECT_EQ(b->target, "/");
  auto c = parse_http_url("http://[::1]:9000/readyz?verbose=1#top");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->port, "9000");
  EXPECT_EQ(c->target, "/readyz?verbose=1");
  for (const char* bad : {"https://h/", "ftp://h/", "http://", "http://:80/", "http://u:p@h/",
                          "http://h:0/", "http://h:x/", "http://[::1/", "127.0.0.1:8080"}) {
    auto r = parse_http_url(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, codes::kInvalidArgument);
    EXPECT_NE(r.error().message.find(bad), std::string::npos) << r.error().message;
  }
}

TEST(HealthcheckHttp, TwoHundredIsHealthyAnythingElseIsSaid) {
  http::Server server(http::ServerOptions{});
  server.router().add(http::Method::get, "/readyz", [](const http::Request&) {
    return http::Response::json({{"status", "ready"}});
  });
  server.router().add(http::Method::get, "/notready", [](const http::Request&) {
    return http::Response::json({{"status", "not ready"}}, http::StatusCode::service_unavailable);
  });
  server.start();
  const std::string base = "http://127.0.0.1:" + std::to_string(server.port());
  EXPECT_EQ(check_http(base + "/readyz", Clock::now() + 3s), std::nullopt);
  auto not_ready = check_http(base + "/notready", Clock::now() + 3s);
  ASSERT_TRUE(not_ready.has_value());
  EXPECT_NE(not_ready->find("answered 503"), std::string::npos) << *not_ready;
  EXPECT_NE(not_ready->find("not ready"), std::string::npos) << *not_ready;
  server.stop();
  auto refused = check_http(base + "/readyz", Clock::now() + 3s);
  ASSERT_TRUE(refused.has_value());
  EXPECT_NE(refused->find("cannot connect"), std::string::npos) << *refused;
}

TEST(HealthcheckHttp, AServerThatNeverAnswersTakesNoLongerThanTheBudget) {
  // Listens (the kernel accepts connections) but never reads nor answers.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const auto start = Clock::now();
  auto silent = check_http("http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/readyz",
                           start + 500ms);
  const auto took = Clock::now() - start;
  ::close(fd);
  ASSERT_TRUE(silent.has_value());
  EXPECT_NE(silent->find("no answer in time"), std::string::npos) << *silent;
  EXPECT_LT(took, 2s);
}

}  // namespace
}  // namespace wonderland::healthcheck
