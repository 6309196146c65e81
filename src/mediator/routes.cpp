// What the mediator's route groups share: replies from JSON results, the caller's profile,
// 429 answers, the ISBN check and the operators' guard.
#include "routes.hpp"

#include <utility>

#include "wonderland/http/problem.hpp"

namespace wonderland::mediator {

JsonCallback reply_with(const http::Responder& r, http::StatusCode status) {
  return [r, status](Result<Json> result) {
    if (result.ok()) {
      r.respond(http::Response::json(result.value(), status));
    } else {
      r.respond(result.error());
    }
  };
}

void with_customer(Context& ctx, const http::Request& req, const http::Responder& r,
                   std::function<void(const Json& profile)> next) {
  ctx.authenticate(req, [r, next = std::move(next)](Result<Json> profile) {
    if (!profile.ok()) {
      Error e = profile.error();
      if (e.code == codes::kNotFound)
        e = Error::of(codes::kUnauthenticated, e.message);
      r.respond(e);
      return;
    }
    next(profile.value());
  });
}

http::Response too_many(const Verdict& verdict, std::string detail, const std::string& path) {
  http::Problem p = http::Problem::of(http::StatusCode::too_many_requests, std::move(detail),
                                      codes::kResourceExhausted);
  p.retryable = true;
  p.instance = path;
  p.retry_after = http::Problem::seconds_ceil(verdict.retry_after);
  return http::Response::problem(p);
}

bool valid_isbn(std::string_view isbn) {
  if (isbn.size() != 13)
    return false;
  for (char c : isbn) {
    if (c < '0' || c > '9')
      return false;
  }
  return true;
}

http::AsyncHandler admin(Context& ctx, http::AsyncHandler inner) {
  return [&ctx, inner = std::move(inner)](const http::Request& req, const http::Responder& r) {
    if (auto denied = ctx.check_admin(req))
      return void(r.respond(*denied));
    inner(req, r);
  };
}

}  // namespace wonderland::mediator
