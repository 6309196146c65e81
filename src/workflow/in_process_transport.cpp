#include <utility>

#include "wonderland/workflow/transport.hpp"

namespace wonderland::workflow {

void InProcessTransport::on(const std::string& action, Handler handler) {
  on_async(action, [h = std::move(handler)](const Command& cmd, const ReplyCallback& done) {
    Result<nlohmann::json> reply = [&]() -> Result<nlohmann::json> {
      try {
        return h(cmd);
      } catch (const std::exception& e) {
        return Error::from_exception(e);
      }
    }();
    done(std::move(reply));
  });
}

void InProcessTransport::on_async(const std::string& action, AsyncHandler handler) {
  auto shared = std::make_shared<const AsyncHandler>(std::move(handler));
  std::lock_guard lock(mutex_);
  handlers_.insert_or_assign(action, std::move(shared));
}

void InProcessTransport::subscribe(const std::string& topic, Subscriber subscriber) {
  std::lock_guard lock(mutex_);
  subscribers_.emplace(topic, std::make_shared<const Subscriber>(std::move(subscriber)));
}

void InProcessTransport::fail_publications(std::optional<Error> error) {
  std::lock_guard lock(mutex_);
  publish_error_ = std::move(error);
}

void InProcessTransport::send(Command command, ReplyCallback done) {
  std::shared_ptr<const AsyncHandler> handler;
  {
    std::lock_guard lock(mutex_);
    auto it = handlers_.find(command.action);
    if (it != handlers_.end())
      handler = it->second;
  }
  if (!handler) {
    done(Error::of(codes::kNotFound, "no handler for " + command.action));
    return;
  }
  (*handler)(command, std::move(done));
}

void InProcessTransport::publish(Publication publication, PublishCallback done) {
  std::vector<std::shared_ptr<const Subscriber>> targets;
  std::optional<Error> error;
  {
    std::lock_guard lock(mutex_);
    error = publish_error_;
    if (!error) {
      for (const std::string& key : {publication.topic, std::string("*")}) {
        auto [first, last] = subscribers_.equal_range(key);
        for (auto it = first; it != last; ++it)
          targets.push_back(it->second);
      }
    }
  }
  if (error) {
    done(*error);
    return;
  }
  for (const auto& s : targets)
    (*s)(publication);
  done(ok_status());
}

}  // namespace wonderland::workflow
