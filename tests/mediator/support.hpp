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
#include "wonderland/testing/ports.hpp"
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
  /// environment of every mediator. `mediators` mediators (index 0 to mediators - 1) each get
  /// their own HTTP port and log; they share the queue prefix, the admin token and the SQLite
  /// journal path (which a shared journal, WONDERLAND_JOURNAL_URL, replaces).
  explicit Harness(const std::string& name, std::map<std::string, std::string> mediator_env = {},
                   std::size_t mediators = 1);
  ~Harness();  ///< stops the processes, deletes the queues and the folder
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  /// Starts the effects worker and waits until it consumes.
  void start_worker();
  /// Sets a variable of mediator `i`'s environment, for its next start.
  void set_mediator_env(std::size_t i, const std::string& key, const std::string& value);
  /// Starts mediator `i` (same journal every time) and waits until /readyz answers 200; throws
  /// with its log when it exits or does not become ready.
  void start_mediator(std::size_t i = 0);
  /// Starts mediator `i` without waiting for it.
  void launch_mediator(std::size_t i = 0);
  /// SIGKILL: a crash.
  void kill_mediator(std::size_t i = 0);
  /// SIGSTOP (frozen, as on a long pause) and SIGCONT.
  void pause_mediator(std::size_t i);
  void resume_mediator(std::size_t i);
  /// SIGTERM; returns the exit status.
  int stop_mediator(std::size_t i = 0);
  bool mediator_running(std::size_t i = 0);
  /// The exit status of mediator `i`'s last run, once it ended.
  int mediator_exit_status(std::size_t i = 0) const;
  /// SIGTERM; returns the exit status (0 when it is not running).
  int stop_worker();

  const std::string& token() const { return token_; }
  const std::string& prefix() const { return prefix_; }
  std::size_t mediators() const { return mediators_.size(); }
  int port(std::size_t i = 0) const { return mediators_.at(i).port; }
  std::string mediator_log(std::size_t i = 0) const;
  std::string worker_log() const;

  /// An HTTP request to mediator `i` (a new connection each time, so it survives restarts).
  HttpResponse get(const std::string& target, const std::string& token, std::size_t i = 0);
  HttpResponse post(const std::string& target, const json& body, const std::string& token,
                    std::size_t i = 0);
  /// POST /api/workflows with the admin token to mediator `i`; returns the response.
  HttpResponse start(const std::string& definition, const json& input, const std::string& id = {},
                     std::size_t i = 0);
  /// GET /api/workflows/{id} with the admin token from mediator `i`; null when not 200.
  json workflow(const std::string& id, std::size_t i = 0);
  /// Polls (mediator `i`) until the workflow is settled (not running); returns its last view
  /// (null on timeout).
  json wait_settled(const std::string& id,
                    std::chrono::milliseconds timeout = std::chrono::seconds(30),
                    std::size_t i = 0);
  /// Polls (mediator `i`) until `pred(view)` holds; returns the view that satisfied it (null on
  /// timeout).
  json wait_for(const std::string& id, const std::function<bool(const json&)>& pred,
                std::chrono::milliseconds timeout = std::chrono::seconds(30), std::size_t i = 0);

  /// The worker's effects, in the order they happened.
  std::vector<Effect> effects(const std::string& workflow_id = {});
  /// Raw deliveries per key.
  std::map<std::string, std::int64_t> deliveries();
  /// Per key, the deliveries the worker answered from its idempotency store without acting.
  std::map<std::string, std::int64_t> suppressed();

 private:
  struct Mediator {
    testing::PortReservation port_reservation;
    int port = 0;
    std::string log;
    std::map<std::string, std::string> env;
    std::unique_ptr<testing::ChildProcess> process;
  };
  Mediator& mediator(std::size_t i) { return mediators_.at(i); }

  std::filesystem::path dir_;
  std::string prefix_;
  std::string token_;
  std::unique_ptr<testing::ChildProcess> worker_;
  std::vector<Mediator> mediators_;
};

/// The timeline records of a workflow view whose `type` is one of `types` (any when empty).
std::vector<json> records(const json& view, std::initializer_list<const char*> types = {});
/// How many attempts of `step` a workflow view records (its step_started and step_attempt records).
std::size_t attempts_of(const json& view, const std::string& step);
/// The step of the view's latest step_started record ("" when none).
std::string last_started(const json& view);
/// The effects counted per action (`worker.prepare`, ...).
std::map<std::string, int> count_by_action(const std::vector<Effect>& effects);
/// Whether a timeline record is a terminal one.
bool is_terminal(const json& record);
/// The time of a timeline record (its `at`) in milliseconds since the epoch, or -1.
std::int64_t at_ms(const json& record);

}  // namespace wonderland::mediator_test
