#include "wonderland/workflow/definition.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <initializer_list>
#include <mutex>
#include <set>
#include <sstream>

#include "wonderland/workflow/template.hpp"

namespace wonderland::workflow {
namespace {

using nlohmann::json;

/// Thrown inside the parser; converted to an Error value by parse_definition.
struct Invalid {
  std::string message;
};

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

const char* type_name(const json& j) {
  return j.type_name();
}

/// A template whose references are checked once every step id is known.
struct PendingTemplate {
  std::string where;  ///< The step's description for messages.
  std::string field;
  json tmpl;
  std::optional<std::size_t> self;  ///< The step that owns the template.
  bool own_output = false;          ///< May refer to the owner's output (compensations).
  bool failure = false;             ///< May refer to `failure` (compensations, failure handlers).
};

class Parser {
 public:
  explicit Parser(std::string source) : source_(std::move(source)) {}

  std::shared_ptr<const Definition> parse(const json& doc) {
    if (!doc.is_object())
      fail("", "", std::string("must be a JSON object, not ") + type_name(doc));
    check_fields("", doc,
                 {"name", "version", "description", "defaults", "steps", "on_failure", "output"});
    auto def = std::make_shared<Definition>();
    def_ = def.get();
    def->source = source_;
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
      check_template(t);
    def->digest = fnv1a_hex(doc.dump());
    return def;
  }

 private:
  [[noreturn]] void fail(const std::string& where, const std::string& field,
                         const std::string& why) const {
    std::string msg = source_ + ": ";
    if (!where.empty())
      msg += "step " + where + ": ";
    if (!field.empty())
      msg += "field '" + field + "': ";
    throw Invalid{msg + why};
  }

  CompiledTemplate compile(const std::string& where, const std::string& field, const json& tmpl) {
    auto compiled = CompiledTemplate::compile(tmpl);
    if (!compiled)
      fail(where, field, compiled.error().message);
    return std::move(*compiled);
  }

  void check_fields(const std::string& where, const json& obj,
                    std::initializer_list<const char*> allowed, const std::string& prefix = "") {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      bool known =
          std::any_of(allowed.begin(), allowed.end(), [&](const char* a) { return it.key() == a; });
      if (!known)
        fail(where, prefix + it.key(), "unknown field");
    }
  }

  std::string required_string(const std::string& where, const json& obj, const char* field,
                              const std::string& prefix = "") {
    if (!obj.contains(field))
      fail(where, prefix + field, "is required");
    const json& v = obj[field];
    if (!v.is_string() || v.get_ref<const std::string&>().empty()) {
      fail(where, prefix + field, "must be a non-empty string");
    }
    return v.get<std::string>();
  }

  std::chrono::milliseconds parse_ms(const std::string& where, const json& v,
                                     const std::string& field, long long min) {
    if (!v.is_number_integer() || v.get<long long>() < min || v.get<long long>() > 86'400'000) {
      fail(where, field, "must be an integer between " + std::to_string(min) + " and 86400000");
    }
    return std::chrono::milliseconds(v.get<long long>());
  }

  RetryPolicy parse_retry(const std::string& where, const json& j, RetryPolicy base,
                          const std::string& field) {
    if (!j.is_object())
      fail(where, field, "must be an object");
    const std::string p = field + ".";
    check_fields(where, j,
                 {"max_attempts", "initial_backoff_ms", "max_backoff_ms", "multiplier", "jitter",
                  "retry_on"},
                 p);
    if (j.contains("max_attempts")) {
      const json& v = j["max_attempts"];
      if (!v.is_number_integer() || v.get<long long>() < 1 || v.get<long long>() > 1'000'000) {
        fail(where, p + "max_attempts", "must be an integer >= 1");
      }
      base.max_attempts = v.get<int>();
    }
    if (j.contains("initial_backoff_ms")) {
      base.initial_backoff = parse_ms(where, j["initial_backoff_ms"], p + "initial_backoff_ms", 0);
    }
    if (j.contains("max_backoff_ms")) {
      base.max_backoff = parse_ms(where, j["max_backoff_ms"], p + "max_backoff_ms", 0);
    }
    if (base.max_backoff < base.initial_backoff) {
      fail(where, p + "max_backoff_ms", "must not be less than initial_backoff_ms");
    }
    if (j.contains("multiplier")) {
      const json& v = j["multiplier"];
      if (!v.is_number() || v.get<double>() < 1.0 || v.get<double>() > 100.0) {
        fail(where, p + "multiplier", "must be a number between 1 and 100");
      }
      base.multiplier = v.get<double>();
    }
    if (j.contains("jitter")) {
      const json& v = j["jitter"];
      if (!v.is_number() || v.get<double>() < 0.0 || v.get<double>() > 1.0) {
        fail(where, p + "jitter", "must be a number between 0 and 1");
      }
      base.jitter = v.get<double>();
    }
    if (j.contains("retry_on")) {
      const json& v = j["retry_on"];
      if (!v.is_array())
        fail(where, p + "retry_on", "must be an array of error codes");
      base.retry_on.clear();
      for (const auto& code : v) {
        if (!code.is_string() || code.get_ref<const std::string&>().empty()) {
          fail(where, p + "retry_on", "must be an array of error codes");
        }
        base.retry_on.push_back(code.get<std::string>());
      }
    }
    return base;
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
    } else if (kind == "choice") {
      check_fields(where, j, {"id", "kind", "description", "on", "cases", "default"});
      def_->steps[index].kind = StepKind::kChoice;
      parse_choice(where, j, index, child_prefix);
    } else {
      fail(where, "kind", "must be one of task, parallel, choice, publish (got '" + kind + "')");
    }
    return index;
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
      const json& cj = cases[c];
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
      parsed.push_back(std::move(cc));
    }
    def_->steps[index].cases = std::move(parsed);
    if (j.contains("default")) {
      auto dflt = parse_sequence(j["default"], "default", index, child_prefix, false);
      def_->steps[index].default_steps = std::move(dflt);
    }
  }

  void check_template(const PendingTemplate& t) {
    auto refs = template_references(t.tmpl);
    if (!refs)
      fail(t.where, t.field, refs.error().message);
    for (const TemplatePath& ref : *refs) {
      const auto& seg = ref.segments;
      const std::string shown = "'${" + ref.text + "}'";
      if (seg[0] == "input")
        continue;
      if (seg[0] == "workflow") {
        static const std::set<std::string> kFields{"id", "definition", "version", "run"};
        if (seg.size() != 2 || !kFields.count(seg[1])) {
          fail(t.where, t.field, shown + ": workflow has only id, definition, version and run");
        }
        continue;
      }
      if (seg[0] == "failure") {
        if (!t.failure) {
          fail(t.where, t.field,
               shown + ": 'failure' exists only in compensations and on_failure steps");
        }
        continue;
      }
      if (seg[0] == "steps") {
        if (seg.size() < 3 || seg[2] != "output") {
          fail(t.where, t.field, shown + ": must be steps.<id>.output[...]");
        }
        const Step* target = def_->find(seg[1]);
        if (!target)
          fail(t.where, t.field, shown + ": no step '" + seg[1] + "'");
        if (t.self && target->index == *t.self && !t.own_output) {
          fail(t.where, t.field, shown + ": a step cannot use its own output");
        }
        continue;
      }
      fail(t.where, t.field, shown + ": must start with input, workflow, steps or failure");
    }
  }

  std::string source_;
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

bool RetryPolicy::should_retry(const Error& error) const {
  if (retry_on.empty())
    return error.retryable;
  return std::find(retry_on.begin(), retry_on.end(), error.code) != retry_on.end();
}

std::chrono::milliseconds RetryPolicy::backoff(int attempt) const {
  double ms = static_cast<double>(initial_backoff.count()) *
              std::pow(multiplier, static_cast<double>(std::max(0, attempt - 1)));
  double cap = static_cast<double>(max_backoff.count());
  if (!(ms < cap))
    ms = cap;
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

std::string_view to_string(StepKind kind) {
  switch (kind) {
    case StepKind::kTask:
      return "task";
    case StepKind::kParallel:
      return "parallel";
    case StepKind::kChoice:
      return "choice";
    case StepKind::kPublish:
      return "publish";
  }
  return "task";
}

bool ChoiceCase::matches(const nlohmann::json& value) const {
  switch (op) {
    case Op::kEquals:
      return value == operand;
    case Op::kOneOf:
      return std::any_of(operand.begin(), operand.end(),
                         [&](const nlohmann::json& o) { return o == value; });
    case Op::kLessThan:
      return value.is_number() && value < operand;
    case Op::kGreaterThan:
      return value.is_number() && value > operand;
  }
  return false;
}

const Step* Definition::find(std::string_view id) const {
  auto it = by_id.find(id);
  return it == by_id.end() ? nullptr : &steps[it->second];
}

const Step* Definition::find_path(std::string_view path) const {
  auto it = by_path.find(path);
  return it == by_path.end() ? nullptr : &steps[it->second];
}

Result<std::shared_ptr<const Definition>> parse_definition(const nlohmann::json& document,
                                                           const std::string& source) {
  if (auto limit = check_json_value_limits(document, kDefinitionJsonLimits))
    return Error::of(codes::kInvalidArgument, source + ": " + limit->message);
  try {
    return Parser(source).parse(document);
  } catch (const Invalid& e) {
    return Error::of(codes::kInvalidArgument, e.message);
  } catch (const std::exception& e) {
    return Error::of(codes::kInvalidArgument, source + ": " + e.what());
  }
}

Result<std::shared_ptr<const Definition>> parse_definition_text(std::string_view text,
                                                                const std::string& source) {
  if (auto limit = check_json_limits(text, kDefinitionJsonLimits))
    return Error::of(codes::kInvalidArgument, source + ": " + limit->message);
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& e) {
    return Error::of(codes::kInvalidArgument,
                     source + ": invalid JSON at byte " + std::to_string(e.byte));
  } catch (const json::exception&) {
    // A number too large for any JSON number type (out_of_range.406) is not a parse_error.
    return Error::of(codes::kInvalidArgument, source + ": invalid JSON (a number out of range)");
  }
  return parse_definition(doc, source);
}

Result<std::shared_ptr<const Definition>> load_definition_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in)
    return Error::of(codes::kNotFound, file.string() + ": cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_definition_text(text.str(), file.string());
}

Status DefinitionRegistry::add(std::shared_ptr<const Definition> definition) {
  if (!definition)
    return Error::of(codes::kInvalidArgument, "no definition");
  std::unique_lock lock(mutex_);
  auto& versions = defs_[definition->name];
  auto it = versions.find(definition->version);
  if (it != versions.end()) {
    if (it->second->digest == definition->digest)
      return ok_status();
    return Error::of(codes::kConflict, definition->source + ": " + definition->name + " version " +
                                           std::to_string(definition->version) +
                                           " is already registered with different content (" +
                                           it->second->source + ")");
  }
  versions.emplace(definition->version, std::move(definition));
  return ok_status();
}

Status DefinitionRegistry::load_file(const std::filesystem::path& file) {
  auto def = load_definition_file(file);
  if (!def)
    return def.error();
  return add(std::move(*def));
}

Result<std::size_t> DefinitionRegistry::load_directory(const std::filesystem::path& dir) {
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") {
      files.push_back(entry.path());
    }
  }
  if (ec)
    return Error::of(codes::kNotFound, dir.string() + ": " + ec.message());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    if (auto st = load_file(f); !st)
      return st.error();
  }
  return files.size();
}

std::shared_ptr<const Definition> DefinitionRegistry::find(std::string_view name,
                                                           int version) const {
  std::shared_lock lock(mutex_);
  auto it = defs_.find(name);
  if (it == defs_.end())
    return nullptr;
  auto v = it->second.find(version);
  return v == it->second.end() ? nullptr : v->second;
}

std::shared_ptr<const Definition> DefinitionRegistry::latest(std::string_view name) const {
  std::shared_lock lock(mutex_);
  auto it = defs_.find(name);
  if (it == defs_.end() || it->second.empty())
    return nullptr;
  return it->second.rbegin()->second;
}

std::vector<std::shared_ptr<const Definition>> DefinitionRegistry::all() const {
  std::shared_lock lock(mutex_);
  std::vector<std::shared_ptr<const Definition>> out;
  for (const auto& [name, versions] : defs_) {
    for (const auto& [v, def] : versions)
      out.push_back(def);
  }
  return out;
}

}  // namespace wonderland::workflow
