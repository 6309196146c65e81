#include "wonderland/http/responder.hpp"

#include "detail.hpp"

namespace wonderland::http {

bool Responder::respond(Response response) const {
  auto& ex = *exchange_;
  if (ex.done.exchange(true, std::memory_order_acq_rel))
    return false;
  const auto& c = ex.connection;
  if (c->in_dispatch()) {
    c->deliver_inline(std::move(response));
    return true;
  }
  c->post([c, seq = ex.seq, r = std::move(response)]() mutable { c->deliver(seq, std::move(r)); });
  return true;
}

bool Responder::respond(const Error& error) const {
  return respond(Response::error(error, exchange_->request.path()));
}

std::shared_ptr<EventStream> Responder::start_events(EventStreamOptions options) const {
  auto& ex = *exchange_;
  auto stream =
      std::make_shared<EventStream>(EventStream::Passkey{}, ex.connection, options,
                                    std::string(ex.request.header("Last-Event-ID").value_or("")));
  if (ex.done.exchange(true, std::memory_order_acq_rel)) {
    stream->mark_closed();
    return stream;
  }
  const auto& c = ex.connection;
  if (c->in_dispatch()) {
    c->begin_events(ex.seq, stream);
    return stream;
  }
  if (!c->post([c, seq = ex.seq, stream] { c->begin_events(seq, stream); }))
    stream->mark_closed();
  return stream;
}

bool Responder::done() const {
  return exchange_->done.load(std::memory_order_acquire);
}

bool Responder::cancelled() const {
  return exchange_->connection->is_closed();
}

const Request& Responder::request() const {
  return exchange_->request;
}

}  // namespace wonderland::http
