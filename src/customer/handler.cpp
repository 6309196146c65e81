#include "handler.hpp"

#include <algorithm>
#include <functional>

#include "guarded.hpp"
#include "wonderland/customer/protocol.hpp"
#include "wonderland/log/log.hpp"

namespace wonderland::customer {

using messaging::Envelope;
using nlohmann::json;

/// What a command does to the customer database, and so how a repeated delivery stays harmless.
enum class Effect {
  kReadOnly,
  /// Changes state; deduplicated by its idempotency key: the outcome is recorded with the
  /// effect's writes, and a repeated key answers it without acting again.
  kDeduplicated,
  /// Changes state, and is idempotent by itself, keyed by the order it names: a repeated delivery
  /// changes nothing and answers alike (record_order inserts the order once; clear_basket
  /// empties the basket at the first clear of the order only). No outcome is recorded for it:
  /// that would cost a claim and a record, and a transaction, for nothing.
  kIdempotentByOrder,
};

/// What runs in a command's transaction (the idempotency claim's, for a deduplicated command).
using Work = std::function<Result<json>()>;

struct CommandSpec {
  const char* type;
  /// Does what needs no database (a password's hash), then returns the command's Work. Runs before
  /// any transaction opens, so that no transaction is held open for it.
  Work (*prepare)(Store&, const Envelope&);
  Effect effect;
  bool announce;  ///< writes events to the outbox: flush after success
};

namespace {

template <Result<json> (Store::*Op)(const json&)>
Work body_only(Store& store, const Envelope& e) {
  return [&store, &e] { return (store.*Op)(e.body); };
}

/// The password is hashed first; a body that is not valid fails inside the Work, where its error
/// is recorded under the idempotency key like any other outcome.
Work sign_up(Store& store, const Envelope& e) {
  auto prepared = store.prepare_sign_up(e.body);
  if (!prepared)
    return [error = prepared.error()]() -> Result<json> { return error; };
  return [&store, &e, p = std::move(prepared.value())] { return store.sign_up(p, &e); };
}

const std::vector<CommandSpec>& command_table() {
  static const std::vector<CommandSpec> table = {
      {commands::kSignUp, &sign_up, Effect::kDeduplicated, true},
      {commands::kSignIn, &body_only<&Store::sign_in>, Effect::kReadOnly, false},
      {commands::kSignOut, &body_only<&Store::sign_out>, Effect::kDeduplicated, false},
      {commands::kAuthenticate, &body_only<&Store::authenticate>, Effect::kReadOnly, false},
      {commands::kGetProfile, &body_only<&Store::get_profile>, Effect::kReadOnly, false},
      {commands::kAddAddress, &body_only<&Store::add_address>, Effect::kDeduplicated, false},
      {commands::kGetBasket, &body_only<&Store::get_basket>, Effect::kReadOnly, false},
      {commands::kSetBasketItem, &body_only<&Store::set_basket_item>, Effect::kDeduplicated, false},
      {commands::kAddBasketItem, &body_only<&Store::add_basket_item>, Effect::kDeduplicated, false},
      {commands::kRemoveBasketItem, &body_only<&Store::remove_basket_item>, Effect::kDeduplicated,
       false},
      {commands::kValidate, &body_only<&Store::validate>, Effect::kReadOnly, false},
      {commands::kRecordOrder, &body_only<&Store::record_order>, Effect::kIdempotentByOrder, false},
      {commands::kClearBasket, &body_only<&Store::clear_basket>, Effect::kIdempotentByOrder, false},
      {commands::kListOrders, &body_only<&Store::list_orders>, Effect::kReadOnly, false},
      {commands::kCheckReturn, &body_only<&Store::check_return>, Effect::kReadOnly, false},
      {commands::kRecordReturn, &body_only<&Store::record_return>, Effect::kDeduplicated, false},
      {commands::kCompleteReturn, &body_only<&Store::complete_return>, Effect::kDeduplicated,
       false},
      {commands::kCloseReturn, &body_only<&Store::close_return>, Effect::kDeduplicated, false},
      {commands::kListReturns, &body_only<&Store::list_returns>, Effect::kReadOnly, false},
      {commands::kGetReturn, &body_only<&Store::get_return>, Effect::kReadOnly, false},
  };
  return table;
}

}  // namespace

CommandHandler::CommandHandler(const std::string& pg_url, const std::string& schema,
                               StoreOptions options, EventPublisher publish)
    : db_(pg_url, schema),
      idempotency_(db_),
      store_(db_, std::move(options)),
      publish_(std::move(publish)) {
  for (const CommandSpec& command : command_table()) {
    router_.on(command.type, [this, &command](const Envelope& request) {
      log::CorrelationScope scope(request.correlation_id);
      return run(command, request);
    });
  }
}

const std::vector<std::string>& CommandHandler::command_types() {
  static const std::vector<std::string> types = [] {
    std::vector<std::string> v;
    for (const CommandSpec& command : command_table())
      v.emplace_back(command.type);
    std::sort(v.begin(), v.end());
    return v;
  }();
  return types;
}

bool CommandHandler::changes_state(const std::string& type) {
  const auto& table = command_table();
  auto it = std::find_if(table.begin(), table.end(),
                         [&](const CommandSpec& command) { return type == command.type; });
  return it != table.end() && it->effect != Effect::kReadOnly;
}

Result<json> CommandHandler::handle(const Envelope& request) {
  return router_.dispatch(request);
}

Result<json> CommandHandler::run(const CommandSpec& command, const Envelope& request) {
  Result<json> reply = guarded(db_, request.type, [&]() -> Result<json> {
    Work effect = command.prepare(store_, request);
    if (command.effect == Effect::kDeduplicated && !request.idempotency_key.empty()) {
      return messaging::deduplicated(idempotency_, request.type + ":" + request.idempotency_key,
                                     effect);
    }
    return effect();
  });
  if (reply.ok() && command.announce && publish_) {
    Status flushed = try_flush_outbox(db_, publish_);
    if (!flushed.ok()) {
      log::warn("outbox flush after {} failed: {}", request.type, flushed.error().message);
    }
  }
  return reply;
}

}  // namespace wonderland::customer
