#include <fstream>
#include <system_error>

#include "wonderland/common/ids.hpp"
#include "wonderland/notification/mailer.hpp"

namespace wonderland::notification {
namespace {

bool safe_stem(const std::string& stem) {
  if (stem.empty() || stem.size() > 200 || stem.front() == '.')
    return false;
  for (char c : stem) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok)
      return false;
  }
  return true;
}

}  // namespace

OutboxMailer::OutboxMailer(std::filesystem::path dir) : dir_(std::move(dir)) {}

void OutboxMailer::send(const OutgoingMail& mail) {
  if (!safe_stem(mail.file_stem)) {
    throw DeliveryError("outbox: '" + mail.file_stem + "' is not a safe file name", true);
  }
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec)
    throw DeliveryError("outbox: cannot create " + dir_.string() + ": " + ec.message(), false);
  const auto target = dir_ / (mail.file_stem + ".eml");
  const auto temp = dir_ / ("." + mail.file_stem + "." + fast_random_hex(6) + ".tmp");
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out.write(mail.data.data(), static_cast<std::streamsize>(mail.data.size()));
    out.flush();
    if (!out) {
      out.close();
      std::filesystem::remove(temp, ec);
      throw DeliveryError("outbox: cannot write " + temp.string(), false);
    }
  }
  std::filesystem::rename(temp, target, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(temp, ignored);
    throw DeliveryError("outbox: cannot rename to " + target.string() + ": " + ec.message(), false);
  }
}

std::string OutboxMailer::describe() const {
  return "outbox folder " + dir_.string();
}

}  // namespace wonderland::notification
