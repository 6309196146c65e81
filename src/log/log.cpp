#include "wonderland/log/log.hpp"

#include <spdlog/details/log_msg.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <mutex>
#include <stdexcept>

#include "detail.hpp"
#include "wonderland/common/env.hpp"

namespace wonderland::log {
namespace {

// What `write` knows beyond spdlog's message: explicit correlation id and fields. Sinks run on
// the calling thread (the logger is synchronous), so a thread-local pointer carries it to them.
struct Context {
  std::string_view correlation_id;
  const nlohmann::json* fields = nullptr;
  bool exact = false;  // a finished record: its (possibly empty) id is final
};

thread_local const Context* t_context = nullptr;
thread_local const std::string* t_scope = nullptr;

class ContextGuard {
 public:
  explicit ContextGuard(const Context* context) : previous_(t_context) { t_context = context; }
  ~ContextGuard() { t_context = previous_; }
  ContextGuard(const ContextGuard&) = delete;
  ContextGuard& operator=(const ContextGuard&) = delete;

 private:
  const Context* previous_;
};

std::string_view effective_correlation_id() noexcept {
  if (t_context != nullptr && (t_context->exact || !t_context->correlation_id.empty())) {
    return t_context->correlation_id;
  }
  return t_scope != nullptr ? std::string_view(*t_scope) : std::string_view();
}

const nlohmann::json& effective_fields() {
  static const nlohmann::json kNone = nlohmann::json::object();
  return t_context != nullptr && t_context->fields != nullptr ? *t_context->fields : kNone;
}

std::string_view view(spdlog::string_view_t s) noexcept {
  return {s.data(), s.size()};
}

// Formats every record, including those of plain spdlog calls, as one human-readable line.
class LineFormatter final : public spdlog::formatter {
 public:
  explicit LineFormatter(std::string service) : service_(std::move(service)) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string line;
    detail::append_line(line, msg.time, from_spdlog(msg.level), service_,
                        effective_correlation_id(), view(msg.payload), effective_fields());
    line += '\n';
    dest.append(line.data(), line.data() + line.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<LineFormatter>(service_);
  }

 private:
  std::string service_;
};

// Hands every record to the forwarder; costs one atomic load while no broker is attached.
class BrokerSink final : public spdlog::sinks::sink {
 public:
  BrokerSink(std::string service, std::shared_ptr<BrokerForwarder> forwarder)
      : service_(std::move(service)), forwarder_(std::move(forwarder)) {}

  void log(const spdlog::details::log_msg& msg) override {
    if (!forwarder_->attached())
      return;
    Record record;
    record.time = msg.time;
    record.severity = from_spdlog(msg.level);
    record.service = service_;
    record.correlation_id = effective_correlation_id();
    record.message = view(msg.payload);
    const nlohmann::json& fields = effective_fields();
    if (fields.is_object()) {
      record.fields = fields;
    } else if (!fields.is_null()) {
      record.fields = nlohmann::json{{"value", fields}};
    }
    forwarder_->push(std::move(record));
  }
  void flush() override {}
  void set_pattern(const std::string&) override {}
  void set_formatter(std::unique_ptr<spdlog::formatter>) override {}

 private:
  std::string service_;
  std::shared_ptr<BrokerForwarder> forwarder_;
};

struct Runtime {
  std::string service;
  std::shared_ptr<spdlog::sinks::sink> console;
  std::shared_ptr<BrokerForwarder> forwarder;
  std::shared_ptr<spdlog::logger> logger;
};

// Never destroyed, so that logging from static destructors stays safe.
struct Global {
  std::mutex init_mu;
  std::atomic<std::shared_ptr<Runtime>> runtime;
};

Global& global() {
  static auto* g = new Global();
  return *g;
}

Severity level_from_env() {
  const std::string value = env::get(kLevelEnv, "");
  if (value.empty())
    return Severity::kInfo;
  if (auto parsed = parse_severity(value))
    return *parsed;
  throw std::invalid_argument(std::string(kLevelEnv) + ": '" + value +
                              "' is not a log level (debug, info, warning, error)");
}

void write_to_console(spdlog::sinks::sink& console, const Record& record) {
  Context context{record.correlation_id, &record.fields, true};
  ContextGuard guard(&context);
  spdlog::details::log_msg msg(record.time, spdlog::source_loc{}, "wonderland",
                               to_spdlog(record.severity),
                               spdlog::string_view_t(record.message.data(), record.message.size()));
  console.log(msg);
  console.flush();
}

std::shared_ptr<Runtime> make_runtime(Options options, Severity level) {
  auto rt = std::make_shared<Runtime>();
  rt->service = std::move(options.service);
  rt->console = options.console ? std::move(options.console)
                                : std::make_shared<spdlog::sinks::stderr_sink_mt>();
  rt->console->set_formatter(std::make_unique<LineFormatter>(rt->service));
  std::weak_ptr<spdlog::sinks::sink> console = rt->console;
  rt->forwarder = std::make_shared<BrokerForwarder>(rt->service, options.broker,
                                                    [console](const Record& record) {
                                                      if (auto sink = console.lock())
                                                        write_to_console(*sink, record);
                                                    });
  auto broker = std::make_shared<BrokerSink>(rt->service, rt->forwarder);
  rt->logger = std::make_shared<spdlog::logger>(
      "wonderland", spdlog::sinks_init_list{rt->console, std::move(broker)});
  rt->logger->set_level(to_spdlog(level));
  rt->logger->flush_on(spdlog::level::warn);
  return rt;
}

void install(const std::shared_ptr<Runtime>& rt) {
  auto previous = global().runtime.exchange(rt);
  spdlog::set_default_logger(rt->logger);
  if (previous)
    previous->forwarder->detach(previous->forwarder->options().flush_timeout);
}

std::shared_ptr<Runtime> runtime() {
  auto& g = global();
  if (auto rt = g.runtime.load())
    return rt;
  std::lock_guard lock(g.init_mu);
  if (auto rt = g.runtime.load())
    return rt;
  Severity level = Severity::kInfo;
  try {
    level = level_from_env();
  } catch (const std::invalid_argument&) {
  }
  auto rt = make_runtime(Options{}, level);
  install(rt);
  return rt;
}

}  // namespace

void init(Options options) {
  const Severity level = options.level ? *options.level : level_from_env();
  auto& g = global();
  std::lock_guard lock(g.init_mu);
  install(make_runtime(std::move(options), level));
}

bool shutdown(std::optional<std::chrono::milliseconds> timeout) {
  auto rt = runtime();
  return rt->forwarder->detach(timeout.value_or(rt->forwarder->options().flush_timeout));
}

BrokerAttachment& BrokerAttachment::operator=(BrokerAttachment&& other) noexcept {
  if (this != &other) {
    detach();
    forwarder_ = std::move(other.forwarder_);
    id_ = other.id_;
    other.forwarder_.reset();
  }
  return *this;
}

bool BrokerAttachment::detach(std::optional<std::chrono::milliseconds> timeout) {
  auto forwarder = forwarder_.lock();
  forwarder_.reset();
  if (!forwarder)
    return true;
  return forwarder->detach(id_, timeout.value_or(forwarder->options().flush_timeout));
}

BrokerAttachment attach_broker(std::shared_ptr<LogPublisher> publisher) {
  auto rt = runtime();
  const std::uint64_t id = rt->forwarder->attach(std::move(publisher));
  return BrokerAttachment(rt->forwarder, id);
}

bool flush(std::chrono::milliseconds timeout) {
  return runtime()->forwarder->flush(timeout);
}

Stats stats() {
  return runtime()->forwarder->stats();
}

bool enabled(Severity severity) {
  return runtime()->logger->should_log(to_spdlog(severity));
}

void set_level(Severity severity) {
  runtime()->logger->set_level(to_spdlog(severity));
}

Severity level() {
  return from_spdlog(runtime()->logger->level());
}

std::shared_ptr<spdlog::logger> logger() {
  return runtime()->logger;
}

void write(Severity severity, std::string_view correlation_id, std::string_view message,
           const nlohmann::json& fields) noexcept {
  try {
    auto rt = runtime();
    const auto level = to_spdlog(severity);
    if (!rt->logger->should_log(level))
      return;
    Context context{correlation_id, &fields};
    ContextGuard guard(&context);
    rt->logger->log(level, spdlog::string_view_t(message.data(), message.size()));
  } catch (...) {  // logging never takes the caller down
  }
}

void write(Severity severity, std::string_view correlation_id, std::string_view message) noexcept {
  try {
    auto rt = runtime();
    const auto level = to_spdlog(severity);
    if (!rt->logger->should_log(level))
      return;
    Context context{correlation_id, nullptr};
    ContextGuard guard(&context);
    rt->logger->log(level, spdlog::string_view_t(message.data(), message.size()));
  } catch (...) {
  }
}

CorrelationScope::CorrelationScope(std::string correlation_id)
    : id_(std::move(correlation_id)), previous_(t_scope) {
  t_scope = &id_;
}

CorrelationScope::~CorrelationScope() {
  t_scope = previous_;
}

std::string_view current_correlation_id() noexcept {
  return t_scope != nullptr ? std::string_view(*t_scope) : std::string_view();
}

Event::Event(Severity severity, std::string message)
    : severity_(severity),
      pending_(enabled(severity)),
      message_(pending_ ? std::move(message) : std::string()),
      fields_(nlohmann::json::object()) {}

Event::Event(Event&& other) noexcept
    : severity_(other.severity_),
      pending_(std::exchange(other.pending_, false)),
      correlation_id_(std::move(other.correlation_id_)),
      message_(std::move(other.message_)),
      fields_(std::move(other.fields_)) {}

Event& Event::corr(std::string_view correlation_id) & {
  if (pending_)
    correlation_id_ = correlation_id;
  return *this;
}

Event& Event::field(std::string_view key, nlohmann::json value) & {
  if (pending_)
    fields_[std::string(key)] = std::move(value);
  return *this;
}

Event& Event::fields(const nlohmann::json& object) & {
  if (!pending_)
    return *this;
  if (object.is_object()) {
    for (const auto& [key, value] : object.items())
      fields_[key] = value;
  } else if (!object.is_null()) {
    fields_["value"] = object;
  }
  return *this;
}

void Event::emit() noexcept {
  if (!pending_)
    return;
  pending_ = false;
  write(severity_, correlation_id_, message_, fields_);
}

}  // namespace wonderland::log
