#include "wonderland/common/postgres_url.hpp"

namespace wonderland {

std::string with_connect_timeout(const std::string& url, int seconds) {
  if (url.find("connect_timeout") != std::string::npos)
    return url;
  std::string param = "connect_timeout=" + std::to_string(seconds);
  const bool uri = url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
  if (!uri)
    return url.empty() ? param : url + " " + param;
  return url + (url.find('?') == std::string::npos ? "?" : "&") + param;
}

}  // namespace wonderland
