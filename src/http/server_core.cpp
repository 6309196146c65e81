// The registry of a server's connections: which are alive, how many are open against
// max_connections, and waiting for them all to close at stop.
#include "detail.hpp"

namespace wonderland::http::detail {

bool ServerCore::add(const std::shared_ptr<Connection>& c) {
  std::lock_guard lock(mu);
  if (stopping.load())
    return false;
  live.emplace(c.get(), c);
  ++open;
  return true;
}

bool ServerCore::full() {
  if (options.max_connections == 0)
    return false;
  std::lock_guard lock(mu);
  return open >= options.max_connections;
}

void ServerCore::closed() {
  std::lock_guard lock(mu);
  if (--open == 0)
    cv.notify_all();
}

void ServerCore::forget(Connection* c) {
  std::lock_guard lock(mu);
  live.erase(c);
}

std::vector<std::shared_ptr<Connection>> ServerCore::snapshot() {
  std::vector<std::shared_ptr<Connection>> out;
  std::lock_guard lock(mu);
  out.reserve(live.size());
  for (auto& [ptr, weak] : live) {
    if (auto c = weak.lock())
      out.push_back(std::move(c));
  }
  return out;
}

bool ServerCore::wait_closed(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu);
  return cv.wait_until(lock, deadline, [this] { return open == 0; });
}

}  // namespace wonderland::http::detail
