#include "wonderland/inventory/server.hpp"

#include <filesystem>

#include "wonderland/common/env.hpp"
#include "wonderland/log/log.hpp"

namespace wonderland::inventory {
namespace {

std::string absolute(const std::string& path) {
  return std::filesystem::absolute(std::filesystem::path(path)).lexically_normal().string();
}

std::string default_catalogue() {
  std::filesystem::path local = std::filesystem::path("data") / "catalogue.json";
  if (std::filesystem::exists(local))
    return local.string();
#ifdef WONDERLAND_SOURCE_DIR
  std::filesystem::path source =
      std::filesystem::path(WONDERLAND_SOURCE_DIR) / "data" / "catalogue.json";
  if (std::filesystem::exists(source))
    return source.string();
#endif
  return local.string();  // missing: the constructor reports it
}

}  // namespace

Config Config::from_env() {
  Config c;
  const std::string var_dir = env::get("WONDERLAND_VAR_DIR", "var");
  c.store.db_path = absolute(env::get("WONDERLAND_INVENTORY_DB",
                                      (std::filesystem::path(var_dir) / "inventory.db").string()));
  c.store.sqlite.synchronous = "FULL";  // a reservation or sale survives a power loss
  c.store.catalogue_path = absolute(env::get("WONDERLAND_CATALOGUE", default_catalogue()));
  c.queue = messaging::QueueName{env::get("WONDERLAND_INVENTORY_QUEUE", c.queue.str())};
  return c;
}

Server::Server(messaging::Connection& connection, Config config)
    : inventory_(std::make_unique<Inventory>(config.store)) {
  inventory_->register_commands(router_);
  rpc_ = std::make_unique<messaging::RpcServer>(
      connection, messaging::RpcServerOptions{config.queue, config.prefetch, config.concurrency},
      router_.handler());
  log::info("inventory: database {}, serving {}", config.store.db_path, config.queue.str());
}

Server::~Server() {
  rpc_.reset();
}

}  // namespace wonderland::inventory
