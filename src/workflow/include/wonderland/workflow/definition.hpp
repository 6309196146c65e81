// Workflow definitions: business workflows as data (docs/workflows.md).
//
// A definition is a JSON document with a name, an integer version and a tree of steps (task,
// parallel, choice, publish, wait, signal, workflow, map). It is parsed and validated once; an
// invalid document is refused with an `invalid_argument` error whose message names the file, the
// step and the field:
//   workflows/purchase.json: step 'charge': field 'retry.max_attempts': must be an integer >= 1
// A parsed Definition is immutable and shared; the registry keeps every version, and a running
// workflow keeps the version it started with.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "wonderland/common/error.hpp"
#include "wonderland/common/json_limits.hpp"
#include "wonderland/workflow/template.hpp"

namespace wonderland::workflow {

/// How the attempts of a step (or of a compensation) are retried.
struct RetryPolicy {
  int max_attempts = 1;  ///< Total attempts, the first included; >= 1.
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
  double multiplier = 2.0;  ///< >= 1.
  double jitter = 0.0;      ///< In [0, 1]: each delay is scaled by a random factor in [1-j, 1+j].
  /// Error codes that are retried. Empty: an error is retried when its `retryable` flag is set.
  /// In a definition they are the codes' wire forms; any other string is refused.
  std::vector<Code> retry_on;
  /// A budget in time for transient errors, apart from the attempt count: an error that says the
  /// service or the broker could not be reached or was busy (`unavailable`, `deadline_exceeded`,
  /// `resource_exhausted`, `aborted`) and that the policy retries is retried until this long
  /// after the step's first attempt, however many attempts that takes, so that a failover of the
  /// broker or a database is waited out. Other errors count against max_attempts. 0: off.
  std::chrono::milliseconds transient_for{0};

  /// Whether an attempt that failed with `error` may be tried again (attempts aside).
  bool should_retry(const Error& error) const;
  /// Whether `error` is transient (see transient_for).
  static bool is_transient(const Error& error);
  /// The delay after failed attempt `attempt` (1-based), before jitter:
  /// min(max_backoff, initial_backoff * multiplier^(attempt-1)).
  std::chrono::milliseconds backoff(int attempt) const;

  friend bool operator==(const RetryPolicy&, const RetryPolicy&) = default;
};

enum class StepKind { kTask, kParallel, kChoice, kPublish, kWait, kSignal, kWorkflow, kMap };
std::string_view to_string(StepKind kind);

/// The command that undoes a task's effect; sent during compensation.
struct Compensation {
  std::string service;  ///< Defaults to the task's service.
  std::string action;
  nlohmann::json input = nlohmann::json::object();  ///< A template (see template.hpp).
  CompiledTemplate input_template;                  ///< `input`, parsed.
  std::chrono::milliseconds timeout{5000};          ///< Defaults to the task's timeout.
};

/// One case of a choice. Exactly one comparison applies: `equals`, `one_of` (the value equals
/// one of the operand's elements), `less_than` or `greater_than` (numbers only).
struct ChoiceCase {
  enum class Op { kEquals, kOneOf, kLessThan, kGreaterThan };
  Op op = Op::kEquals;
  nlohmann::json operand;
  std::vector<std::size_t> steps;  ///< Indices into Definition::steps, run in sequence.

  bool matches(const nlohmann::json& value) const;
};

struct Definition;

/// One step. Steps live in the flat array Definition::steps; composites name their children by
/// index. Fields that do not apply to the step's kind are left empty.
struct Step {
  std::size_t index = 0;
  std::string id;    ///< Unique within the definition.
  std::string path;  ///< Ids from the top joined by '/', e.g. `fulfil/record_order`;
                     ///< failure handlers are `on_failure/<id>`.
  StepKind kind = StepKind::kTask;
  std::optional<std::size_t> parent;  ///< The enclosing parallel or choice step.

  // task and publish
  std::string service;  ///< task: the service that owns `action`.
  std::string action;   ///< task: the command, e.g. `inventory.reserve`.
  std::string topic;    ///< publish: the event's routing key, e.g. `order.confirmed`.
  nlohmann::json input = nlohmann::json::object();  ///< Command input or event payload template.
  CompiledTemplate input_template;                  ///< `input`, parsed.
  RetryPolicy retry;
  std::chrono::milliseconds timeout{5000};
  std::optional<Compensation> compensation;  ///< task only.

  // wait: `duration_ms` (wait_until false) or `until` (true), either a literal or a template
  // rendered when the step starts (wait_deadline_ms checks the value). signal: `timeout_ms`,
  // likewise (signal_timeout_ms checks it).
  bool wait_until = false;
  nlohmann::json wait;
  CompiledTemplate wait_template;  ///< `wait`, parsed.

  // signal: waits for the signal named `signal` at most `wait` ms; on timeout the step fails,
  // or with `on_timeout` it succeeds and the steps between it and that later step of the same
  // sequence (timeout_skips) are skipped.
  std::string signal;
  std::string on_timeout;
  std::vector<std::size_t> timeout_skips;

  // workflow: starts a child workflow of `definition` at `version` (0: the latest registered
  // when the step starts) with `input` (the task fields above) and waits for it to end.
  std::string definition;
  int version = 0;

  // map: runs `body` (the step's `steps`, a definition of its own named `<name>/<path>`) once
  // per element of `items` (a literal array or a template rendered when the step starts), as
  // child workflows, at most `concurrency` at a time.
  nlohmann::json items;
  CompiledTemplate items_template;  ///< `items`, parsed.
  int concurrency = 1;
  std::shared_ptr<const Definition> body;

  // parallel
  std::vector<std::vector<std::size_t>> branches;

  // choice
  std::string on;                    ///< The path as written.
  std::vector<std::string> on_path;  ///< Its segments, e.g. {steps, price, output, total_cents}.
  std::vector<ChoiceCase> cases;
  std::vector<std::size_t> default_steps;

  bool is_leaf() const { return kind != StepKind::kParallel && kind != StepKind::kChoice; }
  /// Whether the step runs child workflows (workflow, map); undoing it undoes those that
  /// completed.
  bool runs_children() const { return kind == StepKind::kWorkflow || kind == StepKind::kMap; }
};

/// A validated workflow definition.
struct Definition {
  std::string name;
  int version = 0;
  std::string description;
  std::string source;  ///< Where it was read from (file name), for messages.
  std::string digest;  ///< Hex FNV-1a of the canonical JSON; identifies the content.
  std::vector<Step> steps;
  std::vector<std::size_t> root;         ///< The top-level sequence.
  std::vector<std::size_t> on_failure;   ///< Publish steps run after compensation.
  std::optional<nlohmann::json> output;  ///< Template of the completed workflow's output.
  std::optional<CompiledTemplate> output_template;  ///< `output`, parsed.
  /// The pivot (docs/workflows.md, "pivot"): a top-level step whose success decides the
  /// workflow. From then on nothing is undone: the steps after it retry for as long as their
  /// errors are retryable, a final error leaves the workflow needing attention instead of
  /// compensating, and the workflow can no longer be cancelled.
  std::optional<std::size_t> pivot;
  /// The body of a map step: its iterations see `${item}` and `${index}`.
  bool map_body = false;
  /// The bodies of this definition's map steps (and theirs), registered with it.
  std::vector<std::shared_ptr<const Definition>> bodies;

  /// The step with this id, or nullptr.
  const Step* find(std::string_view id) const;
  /// The step with this path, or nullptr.
  const Step* find_path(std::string_view path) const;
  /// The pivot step, or nullptr when the definition has none.
  const Step* pivot_step() const { return pivot ? &steps[*pivot] : nullptr; }
  /// Whether a journal record of `type` about step `step` is the pivot's success: from that
  /// record on, the workflow is decided.
  bool decides(std::string_view type, std::string_view step) const;

  std::map<std::string, std::size_t, std::less<>> by_id;
  std::map<std::string, std::size_t, std::less<>> by_path;
};

struct JournalRecord;

/// Whether a workflow of `def` whose records are `timeline` (oldest first) is decided: its pivot
/// succeeded, and no rerun from the pivot or a step before it came later. A decided workflow
/// undoes nothing any more (Definition::pivot).
bool is_decided(const Definition& def, const std::vector<JournalRecord>& timeline);

/// The longest a wait step may wait by `duration_ms`: 366 days.
inline constexpr std::int64_t kMaxWaitMs = std::int64_t{366} * 24 * 3600 * 1000;

/// When a wait step that starts at `now_ms` ends, in milliseconds since the epoch, given the
/// value of its `duration_ms` (`until` false: an integer from 0 to kMaxWaitMs) or `until` (an
/// ISO-8601 UTC time such as `2026-12-24T18:00:00Z`; a time past ends the step at once). An
/// `invalid_argument` error says what is wrong with the value.
Result<std::int64_t> wait_deadline_ms(bool until, const nlohmann::json& value, std::int64_t now_ms);

/// A signal step's `timeout_ms`: an integer from 1 to kMaxWaitMs, or an `invalid_argument` error
/// that says what is wrong with the value.
Result<std::int64_t> signal_timeout_ms(const nlohmann::json& value);

/// Bounds of a definition: the JSON document (text of 1 MiB, nesting depth 64, strings of
/// 64 KiB, 100,000 values), the number of steps and how deep parallel and choice steps nest.
/// A larger definition is refused with `invalid_argument` naming the file (and the step).
inline constexpr JsonLimits kDefinitionJsonLimits{.max_depth = 64,
                                                  .max_string_bytes = std::size_t{64} * 1024,
                                                  .max_elements = 100'000,
                                                  .max_bytes = std::size_t{1024} * 1024};
inline constexpr std::size_t kMaxDefinitionSteps = 1000;
inline constexpr std::size_t kMaxStepNesting = 16;

/// Parses and validates a definition document. `source` names it in error messages.
Result<std::shared_ptr<const Definition>> parse_definition(const nlohmann::json& document,
                                                           const std::string& source);
/// Parses JSON text, then as parse_definition.
Result<std::shared_ptr<const Definition>> parse_definition_text(std::string_view text,
                                                                const std::string& source);
/// Reads and parses a file; the error names the file.
Result<std::shared_ptr<const Definition>> load_definition_file(const std::filesystem::path& file);

/// Every registered definition, by name and version. Thread-safe.
class DefinitionRegistry {
 public:
  /// Registers a definition. Registering the same content again is a no-op; different content
  /// under a registered name and version is refused with `conflict`.
  Status add(std::shared_ptr<const Definition> definition);
  /// Loads and registers one file.
  Status load_file(const std::filesystem::path& file);
  /// Loads and registers every `*.json` file of a directory, in name order; returns how many.
  /// Stops at the first invalid file; then checks the references (check_references).
  Result<std::size_t> load_directory(const std::filesystem::path& dir);

  /// The definition with this name and version, or nullptr.
  std::shared_ptr<const Definition> find(std::string_view name, int version) const;
  /// The highest version of `name`, or nullptr.
  std::shared_ptr<const Definition> latest(std::string_view name) const;
  /// Every definition, by name then version.
  std::vector<std::shared_ptr<const Definition>> all() const;
  /// Checks that the definition of every workflow step is registered (in the version it names,
  /// or any version) and that no definition starts itself through its workflow steps;
  /// `invalid_argument` naming the file, the step and the field otherwise.
  Status check_references() const;

 private:
  void add_locked(std::shared_ptr<const Definition> definition, Status& status);

  mutable std::shared_mutex mutex_;
  std::map<std::string, std::map<int, std::shared_ptr<const Definition>>, std::less<>> defs_;
};

}  // namespace wonderland::workflow
