#include "wonderland/mediator/config.hpp"

#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "wonderland/common/env.hpp"
#include "wonderland/common/ids.hpp"
#include "wonderland/workflow/definition.hpp"

namespace wonderland::mediator {
namespace {

void read_lockout(const char* free_name, const char* max_name, LockoutPolicy& p) {
  auto free_failures = env::get_int(free_name, p.free_failures);
  if (free_failures < 0 || free_failures > 1000000)
    throw std::invalid_argument(std::string(free_name) + " must be 0-1000000");
  p.free_failures = static_cast<unsigned>(free_failures);
  p.max_lockout = env::get_ms(max_name, p.max_lockout);
  if (p.max_lockout.count() < 0)
    throw std::invalid_argument(std::string(max_name) + " must be >= 0");
}

void read_rate(const char* rate_name, const char* burst_name, RatePolicy& p) {
  auto rate = env::get_int(rate_name, static_cast<std::int64_t>(p.per_minute));
  auto burst = env::get_int(burst_name, static_cast<std::int64_t>(p.burst));
  if (rate < 0 || rate > 100000000)
    throw std::invalid_argument(std::string(rate_name) + " must be 0-100000000");
  if (burst < 1 || burst > 100000000)
    throw std::invalid_argument(std::string(burst_name) + " must be 1-100000000");
  p.per_minute = static_cast<double>(rate);
  p.burst = static_cast<double>(burst);
}

void read_throttle_config(ThrottleConfig& t) {
  read_lockout("WONDERLAND_SIGNIN_USER_FREE_FAILURES", "WONDERLAND_SIGNIN_USER_MAX_LOCKOUT_MS",
               t.sign_in_user);
  read_lockout("WONDERLAND_SIGNIN_ADDRESS_FREE_FAILURES",
               "WONDERLAND_SIGNIN_ADDRESS_MAX_LOCKOUT_MS", t.sign_in_address);
  auto base = env::get_ms("WONDERLAND_SIGNIN_LOCKOUT_MS", t.sign_in_user.base_lockout);
  if (base.count() < 1)
    throw std::invalid_argument("WONDERLAND_SIGNIN_LOCKOUT_MS must be >= 1");
  t.sign_in_user.base_lockout = t.sign_in_address.base_lockout = base;
  // A key is forgotten after 15 minutes without an attempt, or twice its longest lock-out.
  for (LockoutPolicy* p : {&t.sign_in_user, &t.sign_in_address}) {
    p->forget_after = std::max(std::chrono::milliseconds(15 * 60 * 1000), 2 * p->max_lockout);
  }
  read_rate("WONDERLAND_SIGNUP_PER_MINUTE", "WONDERLAND_SIGNUP_BURST", t.sign_up);
  read_rate("WONDERLAND_ORDERS_PER_MINUTE", "WONDERLAND_ORDERS_BURST", t.orders);
  t.trusted_proxies.clear();
  std::string proxies = env::get("WONDERLAND_HTTP_TRUSTED_PROXIES", "");
  std::size_t start = 0;
  while (start <= proxies.size()) {
    auto comma = proxies.find(',', start);
    std::string item =
        proxies.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty())
      t.trusted_proxies.push_back(item);
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  ProxySet checked(t.trusted_proxies);  // refuses an entry that is no address or network
}

/// WONDERLAND_JOURNAL_URL, WONDERLAND_JOURNAL_SCHEMA, WONDERLAND_MEDIATOR_ID and
/// WONDERLAND_JOURNAL_LEASE_MS.
void read_journal_config(Config& c) {
  c.journal_url = env::get("WONDERLAND_JOURNAL_URL", "");
  if (!c.journal_url.empty() && c.journal_url.rfind("postgresql://", 0) != 0 &&
      c.journal_url.rfind("postgres://", 0) != 0) {
    throw std::invalid_argument(
        "WONDERLAND_JOURNAL_URL must be a postgresql:// URL (or empty for the SQLite journal)");
  }
  c.journal_schema = env::get("WONDERLAND_JOURNAL_SCHEMA", "");
  c.instance_id = env::get("WONDERLAND_MEDIATOR_ID", "");
  if (c.instance_id.empty()) {
    c.instance_id = new_uuid();
  } else if (!is_uuid(c.instance_id)) {
    throw std::invalid_argument("WONDERLAND_MEDIATOR_ID must be a UUID");
  }
  c.journal_lease = env::get_ms("WONDERLAND_JOURNAL_LEASE_MS", c.journal_lease);
  if (c.journal_lease < std::chrono::milliseconds(300) ||
      c.journal_lease > std::chrono::milliseconds(600000)) {
    throw std::invalid_argument("WONDERLAND_JOURNAL_LEASE_MS must be 300-600000");
  }
}

/// WONDERLAND_RETENTION_DAYS, WONDERLAND_RETENTION_MS and WONDERLAND_RETENTION_INTERVAL_MS.
void read_retention_config(Config& c) {
  constexpr std::int64_t kDayMs = std::int64_t{24} * 3600 * 1000;
  auto days = env::get_int("WONDERLAND_RETENTION_DAYS", c.retention_age.count() / kDayMs);
  if (days < 0 || days > 36500)
    throw std::invalid_argument("WONDERLAND_RETENTION_DAYS must be 0-36500");
  c.retention_age = std::chrono::milliseconds(days * kDayMs);
  c.retention_age = env::get_ms("WONDERLAND_RETENTION_MS", c.retention_age);
  if (c.retention_age.count() < 0)
    throw std::invalid_argument("WONDERLAND_RETENTION_MS must be >= 0");
  c.retention_interval = env::get_ms("WONDERLAND_RETENTION_INTERVAL_MS", c.retention_interval);
  if (c.retention_interval.count() < 10 || c.retention_interval.count() > kDayMs)
    throw std::invalid_argument("WONDERLAND_RETENTION_INTERVAL_MS must be 10-86400000");
}

/// How workflows run: command delivery, compensation retries, the return workflow's deadline.
void read_engine_config(Config& c) {
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
  c.return_parcel_timeout =
      env::get_ms("WONDERLAND_RETURN_PARCEL_TIMEOUT_MS", c.return_parcel_timeout);
  if (c.return_parcel_timeout.count() < 1 ||
      c.return_parcel_timeout.count() > workflow::kMaxWaitMs) {
    throw std::invalid_argument("WONDERLAND_RETURN_PARCEL_TIMEOUT_MS must be 1-31622400000");
  }
}

}  // namespace

Config Config::from_env() {
  Config c;
  c.http_address = env::get("WONDERLAND_HTTP_ADDRESS", c.http_address);
  auto port = env::get_int("WONDERLAND_HTTP_PORT", c.http_port);
  if (port < 0 || port > 65535)
    throw std::invalid_argument("WONDERLAND_HTTP_PORT must be 0-65535");
  c.http_port = static_cast<std::uint16_t>(port);
  auto threads = env::get_int("WONDERLAND_HTTP_THREADS", c.http_threads);
  if (threads < 1 || threads > 64)
    throw std::invalid_argument("WONDERLAND_HTTP_THREADS must be 1-64");
  c.http_threads = static_cast<unsigned>(threads);
  c.admin_token = env::get("WONDERLAND_ADMIN_TOKEN", "");
  c.journal_path = env::get("WONDERLAND_JOURNAL_PATH", c.journal_path);
  read_journal_config(c);
  read_retention_config(c);
  if (std::string key = env::get("WONDERLAND_FINGERPRINT_KEY", ""); !key.empty()) {
    c.fingerprint_key =
        std::make_shared<const SecretKey>(SecretKey::from_hex(key, "WONDERLAND_FINGERPRINT_KEY"));
  }
  c.fingerprint_key_file = env::get("WONDERLAND_FINGERPRINT_KEY_FILE", c.fingerprint_key_file);
  c.admin_token_file = env::get("WONDERLAND_ADMIN_TOKEN_FILE", "");
  c.admin_token_file_given = !c.admin_token_file.empty();
  if (!c.admin_token_file_given) {
    c.admin_token_file =
        (std::filesystem::path(c.journal_path).parent_path() / "admin-token").string();
  }
  auto max_connections = env::get_int("WONDERLAND_HTTP_MAX_CONNECTIONS",
                                      static_cast<std::int64_t>(c.http_max_connections));
  if (max_connections < 0 || max_connections > 1000000)
    throw std::invalid_argument("WONDERLAND_HTTP_MAX_CONNECTIONS must be 0-1000000");
  c.http_max_connections = static_cast<std::size_t>(max_connections);
  read_throttle_config(c.throttle);
  c.workflows_dir = env::get("WONDERLAND_WORKFLOWS_DIR", c.workflows_dir);
  c.web_dir = env::get("WONDERLAND_WEB_DIR", c.web_dir);
  c.queue_prefix = env::get("WONDERLAND_QUEUE_PREFIX", c.queue_prefix);
  c.rpc_timeout = env::get_ms("WONDERLAND_RPC_TIMEOUT_MS", c.rpc_timeout);
  c.auth_cache_ttl = env::get_ms("WONDERLAND_AUTH_CACHE_MS", c.auth_cache_ttl);
  c.catalogue_cache_ttl = env::get_ms("WONDERLAND_CATALOGUE_CACHE_MS", c.catalogue_cache_ttl);
  read_engine_config(c);
  c.readyz_require_consumers = env::get_bool("WONDERLAND_READYZ_REQUIRE_CONSUMERS", true);
  return c;
}

}  // namespace wonderland::mediator
