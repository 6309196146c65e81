// PostgreSQL connection strings, as libpq reads them (a postgresql:// URI or key=value pairs).
//
//   pqxx::connection c(wonderland::with_connect_timeout(url, 5));
#pragma once

#include <string>

namespace wonderland {

/// `url` with `connect_timeout=<seconds>` added unless it already sets one, so that an unreachable
/// server fails in seconds rather than after the kernel's TCP time-out. A URI gets it as a query
/// parameter (`?` or `&`), key=value pairs as one more pair.
std::string with_connect_timeout(const std::string& url, int seconds);

}  // namespace wonderland
