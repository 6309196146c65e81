#include "wonderland/customer/handler.hpp"

#include <spdlog/spdlog.h>

#include <map>

namespace wonderland::customer {
namespace {

using nlohmann::json;
using Op = Result<json> (*)(Store&, const messaging::Envelope&);

struct Command {
  Op op;
  bool dedupe;    ///< state-changing: deduplicated by idempotency key
  bool announce;  ///< writes events to the outbox: flush after success
};

const std::map<std::string, Command, std::less<>>& commands() {
  static const std::map<std::string, Command, std::less<>> table = {
      {"customer.sign_up", {[](Store& s, const messaging::Envelope& e) { return s.sign_up(e.body, &e); }, true, true}},
      {"customer.sign_in", {[](Store& s, const messaging::Envelope& e) { return s.sign_in(e.body); }, false, false}},
      {"customer.sign_out", {[](Store& s, const messaging::Envelope& e) { return s.sign_out(e.body); }, true, false}},
      {"customer.authenticate",
       {[](Store& s, const messaging::Envelope& e) { return s.authenticate(e.body); }, false, false}},
      {"customer.get_profile",
       {[](Store& s, const messaging::Envelope& e) { return s.get_profile(e.body); }, false, false}},
      {"customer.add_address",
       {[](Store& s, const messaging::Envelope& e) { return s.add_address(e.body); }, true, false}},
      {"customer.get_basket", {[](Store& s, const messaging::Envelope& e) { return s.get_basket(e.body); }, false, false}},
      {"customer.set_basket_item",
       {[](Store& s, const messaging::Envelope& e) { return s.set_basket_item(e.body); }, true, false}},
      {"customer.add_basket_item",
       {[](Store& s, const messaging::Envelope& e) { return s.add_basket_item(e.body); }, true, false}},
      {"customer.remove_basket_item",
       {[](Store& s, const messaging::Envelope& e) { return s.remove_basket_item(e.body); }, true, false}},
      {"customer.validate", {[](Store& s, const messaging::Envelope& e) { return s.validate(e.body); }, false, false}},
      {"customer.record_order",
       {[](Store& s, const messaging::Envelope& e) { return s.record_order(e.body); }, true, false}},
      {"customer.clear_basket",
       {[](Store& s, const messaging::Envelope& e) { return s.clear_basket(e.body); }, true, false}},
      {"customer.list_orders",
       {[](Store& s, const messaging::Envelope& e) { return s.list_orders(e.body); }, false, false}},
  };
  return table;
}

}  // namespace

CommandHandler::CommandHandler(const std::string& pg_url, const std::string& schema, StoreOptions options,
                               EventPublisher publish)
    : db_(pg_url, schema), idempotency_(db_), store_(db_, std::move(options)), publish_(std::move(publish)) {}

const std::vector<std::string>& CommandHandler::command_types() {
  static const std::vector<std::string> types = [] {
    std::vector<std::string> v;
    for (const auto& [type, command] : commands()) v.push_back(type);
    return v;
  }();
  return types;
}

bool CommandHandler::changes_state(const std::string& type) {
  auto it = commands().find(type);
  return it != commands().end() && it->second.dedupe;
}

Result<json> CommandHandler::handle(const messaging::Envelope& request) {
  auto it = commands().find(request.type);
  if (it == commands().end()) {
    return Error{codes::kInvalidArgument, "unknown command type '" + request.type + "'", false};
  }
  const Command& command = it->second;
  Result<json> reply = guarded(db_, [&]() -> Result<json> {
    auto effect = [&] { return command.op(store_, request); };
    if (command.dedupe && !request.idempotency_key.empty()) {
      return messaging::deduplicated(idempotency_, request.type + ":" + request.idempotency_key, effect);
    }
    return effect();
  });
  if (reply.ok() && command.announce && publish_) {
    Result<json> flushed = guarded(db_, [&]() -> Result<json> { return json(flush_outbox(db_, publish_)); });
    if (!flushed.ok()) spdlog::warn("outbox flush after {} failed: {}", request.type, flushed.error().message);
  }
  return reply;
}

}  // namespace wonderland::customer
