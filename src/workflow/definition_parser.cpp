// Parsing a workflow definition document into a Definition: the document's fields, the step
// tree (task, publish, wait, signal, workflow, map, parallel, choice) and each step's fields; a
// map step's `steps` become a definition of their own (Step::body). Field readers and
// the checks that need the whole document are in definition_fields.cpp.
#include <algorithm>
#include <cstdio>

#include "definition_fields.hpp"
#include "wonderland/workflow/template.hpp"

namespace wonderland::workflow::detail {
namespace {

using nlohmann::json;

std::string fnv1a_hex(std::string_view text) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

bool valid_id(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

bool valid_name(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
  });
}

/// A string with a `${...}` reference: rendered when its step starts, checked then.
bool is_template(const json& j) {
  return j.is_string() && j.get_ref<const std::string&>().find("${") != std::string::npos;
}

const char* type_name(const json& j) {
  return j.type_name();
}

class Parser : FieldReader {
 public:
  explicit Parser(std::string source) : FieldReader(std::move(source)) {}

  std::shared_ptr<const Definition> parse(const json& doc) {
    if (!doc.is_object())
      fail("", "", std::string("must be a JSON object, not ") + type_name(doc));
    check_fields(
        "", doc,
        {"name", "version", "description", "defaults", "steps", "pivot", "on_failure", "output"});
    auto def = std::make_shared<Definition>();
    def_ = def.get();
    def->source = source();
    def->name = required_string("", doc, "name");
    if (!valid_name(def->name)) {
      fail("", "name", "must be lower-case letters, digits, '_', '-' or '.'");
    }
    const json* version = doc.contains("version") ? &doc["version"] : nullptr;
    if (!version)
      fail("", "version", "is required");
    if (!version->is_number_integer() || version->get<long long>() < 1 ||
        version->get<long long>() > 1'000'000'000) {
      fail("", "version", "must be an integer >= 1");
    }
    def->version = version->get<int>();
    if (doc.contains("description")) {
      if (!doc["description"].is_string())
        fail("", "description", "must be a string");
      def->description = doc["description"].get<std::string>();
    }
    if (doc.contains("defaults"))
      parse_defaults(doc["defaults"]);

    if (!doc.contains("steps"))
      fail("", "steps", "is required");
    def->root = parse_sequence(doc["steps"], "steps", std::nullopt, "", false);
    if (def->root.empty())
      fail("", "steps", "must not be empty");
    if (doc.contains("pivot"))
      parse_pivot(doc["pivot"]);
    if (doc.contains("on_failure")) {
      def->on_failure =
          parse_sequence(doc["on_failure"], "on_failure", std::nullopt, "on_failure/", true);
    }
    if (doc.contains("output")) {
      def->output = doc["output"];
      def->output_template = compile("", "output", *def->output);
      templates_.push_back({"", "output", doc["output"], std::nullopt, false, false});
    }
    for (const auto& t : templates_)
      check_template(*this, *def_, t);
    def->digest = fnv1a_hex(doc.dump());
    return def;
  }

 private:
  CompiledTemplate compile(const std::string& where, const std::string& field, const json& tmpl) {
    auto compiled = CompiledTemplate::compile(tmpl);
    if (!compiled)
      fail(where, field, compiled.error().message);
    return std::move(*compiled);
  }

  /// `pivot`: the id of a top-level step. Nothing after it is ever undone, so a step after it
  /// that declares a compensation is refused rather than silently never compensated.
  void parse_pivot(const json& j) {
    if (!j.is_string())
      fail("", "pivot", std::string("must be a step id (a string), not ") + type_name(j));
    const std::string& id = j.get_ref<const std::string&>();
    const auto& root = def_->root;
    auto at = std::find_if(root.begin(), root.end(),
                           [&](std::size_t i) { return def_->steps[i].id == id; });
    if (at == root.end())
      fail("", "pivot", "must name a step of the top-level sequence ('" + id + "' is none)");
    def_->pivot = *at;
    for (auto it = std::next(at); it != root.end(); ++it) {
      const std::string& top = def_->steps[*it].path;
      for (const Step& s : def_->steps) {
        if (s.compensation && (s.path == top || s.path.starts_with(top + "/"))) {
          fail("'" + s.id + "'", "compensation",
               "would never run: the step comes after the pivot '" + id +
                   "', whose success decides the workflow");
        }
      }
    }
  }

  void parse_defaults(const json& j) {
    if (!j.is_object())
      fail("", "defaults", "must be an object");
    check_fields("", j, {"timeout_ms", "retry"}, "defaults.");
    if (j.contains("timeout_ms")) {
      default_timeout_ = parse_ms("", j["timeout_ms"], "defaults.timeout_ms", 1);
    }
    if (j.contains("retry"))
      default_retry_ = parse_retry("", j["retry"], default_retry_, "defaults.retry");
  }

  std::vector<std::size_t> parse_sequence(const json& arr, const std::string& location,
                                          std::optional<std::size_t> parent,
                                          const std::string& path_prefix, bool failure_handler) {
    if (!arr.is_array())
      fail(parent ? describe(*parent) : "", location, "must be an array of steps");
    std::vector<std::size_t> seq;
    for (std::size_t i = 0; i < arr.size(); ++i) {
      seq.push_back(parse_step(arr[i], location + "[" + std::to_string(i) + "]", parent,
                               path_prefix, failure_handler));
    }
    resolve_timeout_jumps(seq);
    return seq;
  }

  std::string describe(std::size_t index) const { return "'" + def_->steps[index].id + "'"; }

  std::size_t parse_step(const json& j, const std::string& location,
                         std::optional<std::size_t> parent, const std::string& path_prefix,
                         bool failure_handler) {
    if (!j.is_object())
      fail(location, "", "must be an object");
    std::string where = location;
    if (j.contains("id") && j["id"].is_string() && !j["id"].get_ref<const std::string&>().empty()) {
      where = "'" + j["id"].get<std::string>() + "'";
    }
    std::string id = required_string(where, j, "id");
    if (!valid_id(id))
      fail(where, "id", "must be letters, digits, '_' or '-'");
    if (id == "on_failure")
      fail(where, "id", "'on_failure' is reserved");
    if (def_->by_id.count(id))
      fail(where, "id", "duplicate step id");
    std::string kind = required_string(where, j, "kind");

    std::size_t index = add_step(where, id, parent, path_prefix);
    if (failure_handler && kind != "publish") {
      fail(where, "kind", "failure handlers must be publish steps");
    }
    const std::string child_prefix = path_prefix + id + "/";
    if (kind == "task") {
      check_fields(where, j,
                   {"id", "kind", "description", "service", "action", "input", "retry",
                    "timeout_ms", "compensation"});
      Step& s = def_->steps[index];
      s.kind = StepKind::kTask;
      s.service = required_string(where, j, "service");
      s.action = required_string(where, j, "action");
      parse_leaf_common(where, j, s, failure_handler);
      if (j.contains("compensation"))
        parse_compensation(where, j["compensation"], s);
    } else if (kind == "publish") {
      check_fields(where, j,
                   {"id", "kind", "description", "topic", "input", "retry", "timeout_ms"});
      Step& s = def_->steps[index];
      s.kind = StepKind::kPublish;
      s.topic = required_string(where, j, "topic");
      parse_leaf_common(where, j, s, failure_handler);
    } else if (kind == "parallel") {
      parse_parallel(where, j, index, child_prefix);
    } else if (kind == "signal") {
      parse_signal(where, j, def_->steps[index]);
    } else if (kind == "wait") {
      parse_wait(where, j, def_->steps[index]);
    } else if (kind == "workflow") {
      parse_workflow(where, j, def_->steps[index]);
    } else if (kind == "map") {
      parse_map(where, j, def_->steps[index]);
    } else if (kind == "choice") {
      check_fields(where, j, {"id", "kind", "description", "on", "cases", "default"});
      def_->steps[index].kind = StepKind::kChoice;
      parse_choice(where, j, index, child_prefix);
    } else {
      fail(where, "kind",
           "must be one of task, parallel, choice, publish, wait, signal, workflow, map (got '" +
               kind + "')");
    }
    return index;
  }

  /// Adds an empty step `id` under `parent`, within the limits of size and nesting.
  std::size_t add_step(const std::string& where, const std::string& id,
                       std::optional<std::size_t> parent, const std::string& path_prefix) {
    std::size_t index = def_->steps.size();
    if (index >= kMaxDefinitionSteps) {
      fail(where, "", "a definition has at most " + std::to_string(kMaxDefinitionSteps) + " steps");
    }
    std::size_t nesting = 1;
    for (auto p = parent; p; p = def_->steps[*p].parent)
      ++nesting;
    if (nesting > kMaxStepNesting) {
      fail(where, "",
           "steps nest at most " + std::to_string(kMaxStepNesting) +
               " deep (parallel and choice steps inside each other)");
    }
    def_->steps.emplace_back();
    def_->by_id.emplace(id, index);
    {
      Step& s = def_->steps.back();
      s.index = index;
      s.id = id;
      s.path = path_prefix + id;
      s.parent = parent;
      def_->by_path.emplace(s.path, index);
    }
    return index;
  }

  void parse_parallel(const std::string& where, const json& j, std::size_t index,
                      const std::string& child_prefix) {
    check_fields(where, j, {"id", "kind", "description", "branches"});
    def_->steps[index].kind = StepKind::kParallel;
    if (!j.contains("branches"))
      fail(where, "branches", "is required");
    const json& branches = j["branches"];
    if (!branches.is_array() || branches.empty()) {
      fail(where, "branches", "must be a non-empty array of step arrays");
    }
    std::vector<std::vector<std::size_t>> parsed;
    for (std::size_t b = 0; b < branches.size(); ++b) {
      std::string field = "branches[" + std::to_string(b) + "]";
      if (!branches[b].is_array() || branches[b].empty()) {
        fail(where, field, "must be a non-empty array of steps");
      }
      parsed.push_back(parse_sequence(branches[b], field, index, child_prefix, false));
    }
    def_->steps[index].branches = std::move(parsed);
  }

  ChoiceCase parse_case(const std::string& where, const json& cj, const std::string& field,
                        std::size_t index, const std::string& child_prefix) {
    if (!cj.is_object())
      fail(where, field, "must be an object");
    check_fields(where, cj, {"equals", "one_of", "less_than", "greater_than", "steps"},
                 field + ".");
    ChoiceCase cc;
    int ops = 0;
    if (cj.contains("equals")) {
      cc.op = ChoiceCase::Op::kEquals;
      cc.operand = cj["equals"];
      ++ops;
    }
    if (cj.contains("one_of")) {
      cc.op = ChoiceCase::Op::kOneOf;
      cc.operand = cj["one_of"];
      if (!cc.operand.is_array())
        fail(where, field + ".one_of", "must be an array");
      ++ops;
    }
    for (const char* op : {"less_than", "greater_than"}) {
      if (!cj.contains(op))
        continue;
      cc.op = std::string_view(op) == "less_than" ? ChoiceCase::Op::kLessThan
                                                  : ChoiceCase::Op::kGreaterThan;
      cc.operand = cj[op];
      if (!cc.operand.is_number())
        fail(where, field + "." + op, "must be a number");
      ++ops;
    }
    if (ops != 1) {
      fail(where, field, "needs exactly one of equals, one_of, less_than, greater_than");
    }
    if (!cj.contains("steps"))
      fail(where, field + ".steps", "is required");
    cc.steps = parse_sequence(cj["steps"], field + ".steps", index, child_prefix, false);
    return cc;
  }

  void parse_leaf_common(const std::string& where, const json& j, Step& s, bool failure_handler) {
    s.retry = default_retry_;
    s.timeout = default_timeout_;
    if (j.contains("input"))
      s.input = j["input"];
    s.input_template = compile(where, "input", s.input);
    if (j.contains("retry"))
      s.retry = parse_retry(where, j["retry"], s.retry, "retry");
    if (j.contains("timeout_ms"))
      s.timeout = parse_ms(where, j["timeout_ms"], "timeout_ms", 1);
    templates_.push_back({where, "input", s.input, s.index, false, failure_handler});
  }

  /// A wait step: exactly one of `duration_ms` and `until`, each a literal (checked now) or a
  /// template (checked when the step starts).
  void parse_wait(const std::string& where, const json& j, Step& s) {
    check_fields(where, j, {"id", "kind", "description", "duration_ms", "until"});
    s.kind = StepKind::kWait;
    const bool by_duration = j.contains("duration_ms");
    if (by_duration == j.contains("until"))
      fail(where, "duration_ms", "a wait step needs exactly one of duration_ms and until");
    const char* field = by_duration ? "duration_ms" : "until";
    s.wait_until = !by_duration;
    s.wait = j[field];
    s.wait_template = compile(where, field, s.wait);
    if (is_template(s.wait)) {
      templates_.push_back({where, field, s.wait, s.index, false, false});
      return;
    }
    if (auto checked = wait_deadline_ms(s.wait_until, s.wait, 0); !checked) {
      std::string why = checked.error().message.substr(std::string(field).size() + 2);
      fail(where, field, why + (by_duration ? " or a template such as '${input.delay_ms}'" : ""));
    }
  }

  /// A workflow step: the child's definition (checked against the registry when the directory
  /// is loaded, DefinitionRegistry::check_references), its version and its input.
  void parse_workflow(const std::string& where, const json& j, Step& s) {
    check_fields(where, j, {"id", "kind", "description", "definition", "version", "input"});
    s.kind = StepKind::kWorkflow;
    s.definition = required_string(where, j, "definition");
    if (!valid_name(s.definition))
      fail(where, "definition", "must be lower-case letters, digits, '_', '-' or '.'");
    if (j.contains("version")) {
      const json& v = j["version"];
      if (!v.is_number_integer() || v.get<long long>() < 1 || v.get<long long>() > 1'000'000'000)
        fail(where, "version", "must be an integer >= 1");
      s.version = v.get<int>();
    }
    if (j.contains("input"))
      s.input = j["input"];
    if (!s.input.is_object())
      fail(where, "input", "must be an object (the child workflow's input)");
    s.input_template = compile(where, "input", s.input);
    s.retry = RetryPolicy{};  // one attempt: the child retries its own steps
    templates_.push_back({where, "input", s.input, s.index, false, false});
  }

  /// A map step: `items` (an array, or a template that renders one), `concurrency` and the
  /// `steps` of each iteration, parsed as a definition of their own that sees `${item}` and
  /// `${index}`; `output` is an iteration's output (default: its last step's output).
  void parse_map(const std::string& where, const json& j, Step& s) {
    check_fields(where, j,
                 {"id", "kind", "description", "items", "concurrency", "steps", "output"});
    s.kind = StepKind::kMap;
    if (!j.contains("items"))
      fail(where, "items", "is required");
    s.items = j["items"];
    const bool is_template = s.items.is_string() &&
                             s.items.get_ref<const std::string&>().find("${") != std::string::npos;
    if (!is_template && !s.items.is_array())
      fail(where, "items", "must be an array or a template such as '${input.orders}'");
    s.items_template = compile(where, "items", s.items);
    templates_.push_back({where, "items", s.items, s.index, false, false});
    if (j.contains("concurrency")) {
      const json& c = j["concurrency"];
      if (!c.is_number_integer() || c.get<long long>() < 1 || c.get<long long>() > 1000)
        fail(where, "concurrency", "must be an integer between 1 and 1000");
      s.concurrency = c.get<int>();
    }
    if (!j.contains("steps"))
      fail(where, "steps", "is required");
    Parser body(source());
    body.default_retry_ = default_retry_;
    body.default_timeout_ = default_timeout_;
    s.body = body.parse_body(*def_, s, j);
    def_->bodies.push_back(s.body);
  }

  /// The definition of a map step's iterations, named `<name>/<path>`.
  std::shared_ptr<const Definition> parse_body(const Definition& outer, const Step& map,
                                               const json& j) {
    auto def = std::make_shared<Definition>();
    def_ = def.get();
    def->source = source();
    def->name = outer.name + "/" + map.path;
    def->version = outer.version;
    def->description = "the steps of map step '" + map.id + "' of " + outer.name;
    def->map_body = true;
    def->root = parse_sequence(j["steps"], "steps", std::nullopt, "", false);
    if (def->root.empty())
      fail("'" + map.id + "'", "steps", "must not be empty");
    json output = "${steps." + def->steps[def->root.back()].id + ".output?}";
    if (j.contains("output"))
      output = j["output"];
    def->output = output;
    def->output_template = compile("'" + map.id + "'", "output", output);
    templates_.push_back({"'" + map.id + "'", "output", output, std::nullopt, false, false});
    for (const auto& t : templates_)
      check_template(*this, *def_, t);
    def->digest = fnv1a_hex(json{{"steps", j["steps"]}, {"output", output}}.dump());
    return def;
  }

  /// A signal step; its `on_timeout` is resolved with its sequence (resolve_timeout_jumps).
  void parse_signal(const std::string& where, const json& j, Step& s) {
    check_fields(where, j, {"id", "kind", "description", "signal", "timeout_ms", "on_timeout"});
    s.kind = StepKind::kSignal;
    s.signal = required_string(where, j, "signal");
    if (!valid_name(s.signal))
      fail(where, "signal", "must be lower-case letters, digits, '_', '-' or '.'");
    if (!j.contains("timeout_ms"))
      fail(where, "timeout_ms", "is required");
    s.wait = j["timeout_ms"];
    s.wait_template = compile(where, "timeout_ms", s.wait);
    if (is_template(s.wait)) {
      templates_.push_back({where, "timeout_ms", s.wait, s.index, false, false});
    } else if (auto checked = signal_timeout_ms(s.wait); !checked) {
      fail(where, "timeout_ms",
           "must be an integer between 1 and " + std::to_string(kMaxWaitMs) +
               " (366 days) or a template such as '${input.timeout_ms}'");
    }
    if (j.contains("on_timeout"))
      s.on_timeout = required_string(where, j, "on_timeout");
  }

  /// A signal step's `on_timeout` must name a later step of its own sequence; the steps in
  /// between are the ones a timeout skips.
  void resolve_timeout_jumps(const std::vector<std::size_t>& seq) {
    for (std::size_t p = 0; p < seq.size(); ++p) {
      Step& s = def_->steps[seq[p]];
      if (s.kind != StepKind::kSignal || s.on_timeout.empty())
        continue;
      auto target = std::find_if(seq.begin() + static_cast<std::ptrdiff_t>(p) + 1, seq.end(),
                                 [&](std::size_t i) { return def_->steps[i].id == s.on_timeout; });
      if (target == seq.end()) {
        fail(describe(s.index), "on_timeout",
             "'" + s.on_timeout + "' is not a later step of the same sequence");
      }
      s.timeout_skips.assign(seq.begin() + static_cast<std::ptrdiff_t>(p) + 1, target);
    }
  }

  void parse_compensation(const std::string& where, const json& j, Step& s) {
    if (!j.is_object())
      fail(where, "compensation", "must be an object");
    check_fields(where, j, {"service", "action", "input", "timeout_ms"}, "compensation.");
    Compensation c;
    c.service = s.service;
    c.timeout = s.timeout;
    if (j.contains("service"))
      c.service = required_string(where, j, "service", "compensation.");
    c.action = required_string(where, j, "action", "compensation.");
    if (j.contains("input"))
      c.input = j["input"];
    c.input_template = compile(where, "compensation.input", c.input);
    if (j.contains("timeout_ms")) {
      c.timeout = parse_ms(where, j["timeout_ms"], "compensation.timeout_ms", 1);
    }
    templates_.push_back({where, "compensation.input", c.input, s.index, true, true});
    s.compensation = std::move(c);
  }

  void parse_choice(const std::string& where, const json& j, std::size_t index,
                    const std::string& child_prefix) {
    std::string on = required_string(where, j, "on");
    std::string_view body = on;
    if (body.starts_with("${") && body.ends_with("}"))
      body = body.substr(2, body.size() - 3);
    auto path = parse_template_path(body);
    if (!path)
      fail(where, "on", path.error().message);
    def_->steps[index].on = on;
    def_->steps[index].on_path = path->segments;
    // Checked with the templates: the choice may look at anything its input could.
    json as_template = "${" + path->text + "}";
    if (path->text.starts_with("$."))
      as_template = "${" + path->text.substr(2) + "}";
    templates_.push_back({where, "on", as_template, index, false, false});

    if (!j.contains("cases"))
      fail(where, "cases", "is required");
    const json& cases = j["cases"];
    if (!cases.is_array() || cases.empty())
      fail(where, "cases", "must be a non-empty array");
    std::vector<ChoiceCase> parsed;
    for (std::size_t c = 0; c < cases.size(); ++c) {
      const std::string field = "cases[" + std::to_string(c) + "]";
      parsed.push_back(parse_case(where, cases[c], field, index, child_prefix));
    }
    def_->steps[index].cases = std::move(parsed);
    if (j.contains("default")) {
      auto dflt = parse_sequence(j["default"], "default", index, child_prefix, false);
      def_->steps[index].default_steps = std::move(dflt);
    }
  }

  Definition* def_ = nullptr;
  RetryPolicy default_retry_{.max_attempts = 3,
                             .initial_backoff = std::chrono::milliseconds(100),
                             .max_backoff = std::chrono::milliseconds(5000),
                             .multiplier = 2.0,
                             .jitter = 0.2,
                             .retry_on = {}};
  std::chrono::milliseconds default_timeout_{5000};
  std::vector<PendingTemplate> templates_;
};

}  // namespace

std::shared_ptr<const Definition> parse_document(const std::string& source, const json& doc) {
  return Parser(source).parse(doc);
}

}  // namespace wonderland::workflow::detail
