#include "wonderland/mediator/config.hpp"

#include <stdexcept>

#include "wonderland/common/env.hpp"

namespace wonderland::mediator {

Config Config::from_env() {
  Config c;
  c.http_address = env::get("WONDERLAND_HTTP_ADDRESS", c.http_address);
  auto port = env::get_int("WONDERLAND_HTTP_PORT", c.http_port);
  if (port < 0 || port > 65535) throw std::invalid_argument("WONDERLAND_HTTP_PORT must be 0-65535");
  c.http_port = static_cast<std::uint16_t>(port);
  auto threads = env::get_int("WONDERLAND_HTTP_THREADS", c.http_threads);
  if (threads < 1 || threads > 64) throw std::invalid_argument("WONDERLAND_HTTP_THREADS must be 1-64");
  c.http_threads = static_cast<unsigned>(threads);
  c.admin_token = env::get("WONDERLAND_ADMIN_TOKEN", "");
  c.journal_path = env::get("WONDERLAND_JOURNAL_PATH", c.journal_path);
  c.workflows_dir = env::get("WONDERLAND_WORKFLOWS_DIR", c.workflows_dir);
  c.web_dir = env::get("WONDERLAND_WEB_DIR", c.web_dir);
  c.queue_prefix = env::get("WONDERLAND_QUEUE_PREFIX", c.queue_prefix);
  c.rpc_timeout = env::get_ms("WONDERLAND_RPC_TIMEOUT_MS", c.rpc_timeout);
  c.auth_cache_ttl = env::get_ms("WONDERLAND_AUTH_CACHE_MS", c.auth_cache_ttl);
  c.catalogue_cache_ttl = env::get_ms("WONDERLAND_CATALOGUE_CACHE_MS", c.catalogue_cache_ttl);
  const std::string delivery = env::get("WONDERLAND_COMMAND_DELIVERY", "transient");
  if (delivery != "persistent" && delivery != "transient")
    throw std::invalid_argument("WONDERLAND_COMMAND_DELIVERY must be persistent or transient");
  c.persistent_commands = delivery == "persistent";
  auto attempts = env::get_int("WONDERLAND_COMPENSATION_MAX_ATTEMPTS", c.compensation_max_attempts);
  if (attempts < 1 || attempts > 1000000)
    throw std::invalid_argument("WONDERLAND_COMPENSATION_MAX_ATTEMPTS must be 1-1000000");
  c.compensation_max_attempts = static_cast<int>(attempts);
  c.compensation_backoff =
      env::get_ms("WONDERLAND_COMPENSATION_BACKOFF_MS", c.compensation_backoff);
  c.compensation_max_backoff =
      env::get_ms("WONDERLAND_COMPENSATION_MAX_BACKOFF_MS", c.compensation_max_backoff);
  if (c.compensation_backoff.count() < 1 || c.compensation_max_backoff < c.compensation_backoff) {
    throw std::invalid_argument(
        "WONDERLAND_COMPENSATION_BACKOFF_MS must be >= 1 and <= "
        "WONDERLAND_COMPENSATION_MAX_BACKOFF_MS");
  }
  return c;
}

}  // namespace wonderland::mediator
