// The inventory service: an Inventory served over RPC on `inventory.commands`.
//
//   runtime::Service service("inventory");
//   inventory::Server server(service.connection(), inventory::Config::from_env());
//   service.wait();
#pragma once

#include <memory>
#include <string>

#include "wonderland/inventory/inventory.hpp"
#include "wonderland/inventory/protocol.hpp"
#include "wonderland/messaging/connection.hpp"
#include "wonderland/messaging/names.hpp"
#include "wonderland/messaging/rpc.hpp"

namespace wonderland::inventory {

struct Config {
  Options store;
  /// The command queue; tests use a unique name so as not to collide with a running system.
  messaging::QueueName queue = kCommandQueue;
  /// Handler threads; 0 (the default) handles each request on the connection's I/O thread. The
  /// database serialises requests anyway, a request takes a fraction of a millisecond and never
  /// waits on the broker, so handing it to another thread and back only costs context switches
  /// (a quarter of the service's CPU under load).
  unsigned concurrency = 0;
  std::uint16_t prefetch = 32;

  /// Reads WONDERLAND_INVENTORY_DB (default $WONDERLAND_VAR_DIR/inventory.db, var/ when that is
  /// unset) and WONDERLAND_CATALOGUE (default data/catalogue.json under the working directory,
  /// else the source tree's). Relative paths are resolved against the working directory.
  static Config from_env();
};

/// Owns the Inventory and the RPC server; stops serving when destroyed.
class Server {
 public:
  /// Opens the database, seeds the catalogue, declares the queue and starts serving. Throws when
  /// any of these fails.
  Server(messaging::Connection& connection, Config config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  Inventory& inventory() { return *inventory_; }

 private:
  std::unique_ptr<Inventory> inventory_;
  messaging::CommandRouter router_;
  std::unique_ptr<messaging::RpcServer> rpc_;
};

}  // namespace wonderland::inventory
