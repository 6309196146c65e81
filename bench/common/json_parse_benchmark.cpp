// What one bounded JSON parse costs, on documents shaped like the system's own: the reference
// path (check_json_limits, then nlohmann::json::parse) against parse_json_fast (simdjson, then
// one walk building the same nlohmann document), in the same run.
//
//   build/bench/common/json_parse_benchmark [--seconds S]

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "wonderland/common/json_limits.hpp"
#include "wonderland/common/json_parse.hpp"

namespace {

using nlohmann::json;
using wonderland::JsonLimits;
using Clock = std::chrono::steady_clock;

json priced_lines(int n) {
  json lines = json::array();
  for (int i = 0; i < n; ++i) {
    lines.push_back(
        {{"isbn", "97814920434" + std::to_string(10 + i)},
         {"title", "Designing Data-Intensive Applications, volume " + std::to_string(i)},
         {"quantity", 1 + i % 3},
         {"unit_price_cents", 4599},
         {"line_total_cents", 4599 * (1 + i % 3)}});
  }
  return lines;
}

/// An envelope as the mediator sends a workflow command (inventory.reserve with two lines).
std::string command_envelope() {
  json e = {
      {"body", {{"order_id", "0b3c6a52-6b0e-4e0a-9a55-2a1f0e0c3b11"}, {"items", priced_lines(2)}}},
      {"causation_id", "4f1d0a2e-9b7c-4e55-8a31-0c2f6d7e8a90"},
      {"correlation_id", "0b3c6a52-6b0e-4e0a-9a55-2a1f0e0c3b11"},
      {"idempotency_key", "0b3c6a52-6b0e-4e0a-9a55-2a1f0e0c3b11:reserve:1"},
      {"message_id", "9d7e5c3a-1b2f-4c6d-8e9a-0f1e2d3c4b5a"},
      {"source", "mediator"},
      {"timestamp", "2026-12-05T07:30:00.123Z"},
      {"traceparent", "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01"},
      {"type", "inventory.reserve"}};
  return e.dump();
}

/// A batch of 20 workflow events as the mediator sends the logging service.
std::string event_batch() {
  json events = json::array();
  for (int i = 0; i < 20; ++i) {
    events.push_back(
        {{"workflow_id", "0b3c6a52-6b0e-4e0a-9a55-2a1f0e0c3b11"},
         {"definition", "purchase"},
         {"type", i % 2 == 0 ? "step_started" : "step_succeeded"},
         {"step", "reserve"},
         {"attempt", 1},
         {"at", "2026-12-05T07:30:00.123Z"},
         {"data", {{"output", {{"items", priced_lines(2)}, {"total_cents", 13797}}}}}});
  }
  return json{{"body", {{"events", events}}}, {"message_id", "m"}, {"type", "workflow.events"}}
      .dump();
}

/// A large reply: an order history of 400 lines.
std::string large_document() {
  return json{{"body", {{"orders", priced_lines(400)}}}, {"message_id", "m"}, {"type", "t"}}.dump();
}

/// Nanoseconds per call of `parse` over about `seconds`, the best of three rounds.
double ns_per_parse(const std::function<std::size_t()>& parse, double seconds) {
  double best = 0;
  for (int round = 0; round < 3; ++round) {
    std::size_t calls = 0;
    std::size_t sink = 0;
    const auto start = Clock::now();
    const auto until = start + std::chrono::duration<double>(seconds / 3);
    Clock::time_point now;
    do {
      for (int i = 0; i < 16; ++i)
        sink += parse();
      calls += 16;
      now = Clock::now();
    } while (now < until);
    if (sink == 0)
      throw std::runtime_error("nothing parsed");
    const double ns =
        std::chrono::duration<double, std::nano>(now - start).count() / static_cast<double>(calls);
    best = round == 0 ? ns : std::min(best, ns);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"One bounded JSON parse: check_json_limits + nlohmann against parse_json_fast"};
  double seconds = 3.0;
  app.add_option("--seconds", seconds, "measured seconds per cell")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  const JsonLimits limits = JsonLimits::message();
  struct Doc {
    const char* name;
    std::string text;
  };
  const std::vector<Doc> docs = {{"command envelope", command_envelope()},
                                 {"batch of 20 workflow events", event_batch()},
                                 {"order history, 400 lines", large_document()}};
  std::printf("Bounded JSON parse, message limits, %.1f s per cell (best of three rounds)\n\n",
              seconds);
  std::printf("| document | bytes | reference µs | fast µs | reference / fast |\n");
  std::printf("|---|---|---|---|---|\n");
  for (const Doc& d : docs) {
    auto fast = wonderland::parse_json_fast(d.text, limits);
    if (!fast || *fast != json::parse(d.text))
      throw std::runtime_error(std::string("the fast path disagrees on ") + d.name);
    const double reference = ns_per_parse(
        [&] {
          if (wonderland::check_json_limits(d.text, limits))
            return std::size_t{0};
          return json::parse(d.text).size();
        },
        seconds);
    const double quick = ns_per_parse(
        [&] {
          auto doc = wonderland::parse_json_fast(d.text, limits);
          return doc ? doc->size() : 0;
        },
        seconds);
    std::printf("| %s | %zu | %.2f | %.2f | %.1fx |\n", d.name, d.text.size(), reference / 1000,
                quick / 1000, reference / quick);
    std::fflush(stdout);
  }
  return 0;
}
