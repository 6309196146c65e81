// The mediator: loads the workflow definitions, runs the workflow engine over RabbitMQ with its
// journal, and serves the public and operator HTTP APIs and the web pages.
#pragma once

#include <cstdint>
#include <memory>

#include "wonderland/mediator/config.hpp"
#include "wonderland/messaging/connection.hpp"
#include "wonderland/workflow/engine.hpp"

namespace wonderland::mediator {

class Mediator {
 public:
  /// Loads `config.workflows_dir` (refusing an invalid definition with an error naming the file,
  /// step and field), opens the journal, resumes unfinished workflows and starts serving HTTP.
  /// Throws std::runtime_error on any of these failures.
  Mediator(messaging::Connection& connection, Config config);
  /// Stops HTTP first, then the engine (workflows stay in the journal for the next start).
  ~Mediator();
  Mediator(const Mediator&) = delete;
  Mediator& operator=(const Mediator&) = delete;

  std::uint16_t port() const;
  workflow::Engine& engine();
  const Config& config() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wonderland::mediator
