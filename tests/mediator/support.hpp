// Runs the real wonderland-mediator and test workers (worker_main.cpp) as processes over the
// test broker, each run under its own queue prefix and temporary folder, and reads the worker's
// database and the operator API.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "wonderland/testing/http_client.hpp"
#include "wonderland/testing/process.hpp"

namespace wonderland::mediator_test {

using nlohmann::json;
using testing::HttpResponse;

/// One effect row of the worker's database.
struct Effect {
  std::int64_t id = 0;
  std::string key;
  std::string action;
  std::string kind;  ///< `effect` or `compensation`
  std::string workflow_id;
};

class Harness {
 public:
  /// `name` labels the temporary folder and the queue prefix; `mediator_env` is added to the
  /// mediator's environment.
  explicit Harness(const std::string& name, std::map<std::string, std::string> mediator_env = {});
  ~Harness();  ///< stops the processes, deletes the queues and the folder
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  /// Starts the effects worker and waits until it consumes.
  void start_worker();
  /// Starts the mediator (same journal every time) and waits until /readyz answers 200.
  void start_mediator();
  void kill_mediator();
  /// SIGTERM; returns the exit status.
  int stop_mediator();
  /// SIGTERM; returns the exit status (0 when it is not running).
  int stop_worker();

  const std::string& token() const { return token_; }
  const std::string& prefix() const { return prefix_; }
  int port() const { return port_; }
  std::string mediator_log() const;
  std::string worker_log() const;

  /// An HTTP request to the mediator (a new connection each time, so it survives restarts).
  HttpResponse get(const std::string& target, const std::string& token);
  HttpResponse post(const std::string& target, const json& body, const std::string& token);
  /// POST /api/workflows with the admin token; returns the response.
  HttpResponse start(const std::string& definition, const json& input, const std::string& id = {});
  /// GET /api/workflows/{id} with the admin token; null when not 200.
  json workflow(const std::string& id);
  /// Polls until the workflow is settled (not running); returns its last view (null on timeout).
  json wait_settled(const std::string& id,
                    std::chrono::milliseconds timeout = std::chrono::seconds(30));
  /// Polls until `pred(view)` holds; returns the view that satisfied it (null on timeout).
  json wait_for(const std::string& id, const std::function<bool(const json&)>& pred,
                std::chrono::milliseconds timeout = std::chrono::seconds(30));

  /// The worker's effects, in the order they happened.
  std::vector<Effect> effects(const std::string& workflow_id = {});
  /// Raw deliveries per key.
  std::map<std::string, std::int64_t> deliveries();
  /// Per key, the deliveries the worker answered from its idempotency store without acting.
  std::map<std::string, std::int64_t> suppressed();

 private:
  std::filesystem::path dir_;
  std::string prefix_;
  std::string token_;
  int port_ = 0;
  std::map<std::string, std::string> mediator_env_;
  std::unique_ptr<testing::ChildProcess> worker_;
  std::unique_ptr<testing::ChildProcess> mediator_;
};

/// The timeline records of a workflow view whose `type` is one of `types` (any when empty).
std::vector<json> records(const json& view, std::initializer_list<const char*> types = {});
/// Whether a timeline record is a terminal one.
bool is_terminal(const json& record);

}  // namespace wonderland::mediator_test
