// The live log feed for every `GET /api/logs/stream` client of this mediator.
//
// One subscription to the logging service's live exchange serves all clients: each stream has
// its own filter, applied here. That keeps the broker's topology fixed no matter how many
// operators watch (a queue per viewer would come and go with every browser tab).
#pragma once

#include <map>
#include <memory>
#include <mutex>

#include "wonderland/http/event_stream.hpp"
#include "wonderland/log_service/live.hpp"
#include "wonderland/log_store/filter.hpp"
#include "wonderland/messaging/connection.hpp"

namespace wonderland::mediator {

class LogHub : public std::enable_shared_from_this<LogHub> {
 public:
  explicit LogHub(messaging::Connection& connection) : connection_(connection) {}
  ~LogHub();

  /// Adds a stream; it receives every record matching `filter` until it closes.
  void add(const std::shared_ptr<http::EventStream>& stream, log_store::Filter filter);
  std::size_t size() const;

 private:
  void deliver(const log_store::Record& record);
  void ensure_subscribed();

  messaging::Connection& connection_;
  mutable std::mutex mu_;
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, std::pair<std::shared_ptr<http::EventStream>, log_store::Filter>>
      streams_;
  std::unique_ptr<log_service::LiveSubscription> subscription_;
};

}  // namespace wonderland::mediator
