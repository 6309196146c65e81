#include "wonderland/common/secret_key.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "wonderland/common/private_files.hpp"

namespace wonderland {
namespace {

void init_sodium() {
  if (sodium_init() < 0)
    throw std::runtime_error("libsodium could not be initialised");
}

/// Reads the whole (small) file; nullopt-like empty result with `missing` set when absent.
std::string read_small_file(const std::filesystem::path& file, bool& missing) {
  missing = false;
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      missing = true;
      return {};
    }
    throw std::runtime_error("cannot read key file " + file.string() + ": " + std::strerror(errno));
  }
  std::string out;
  char buf[128];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0 || out.size() > 256)
      break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  sodium_memzero(buf, sizeof buf);
  ::close(fd);
  return out;
}

}  // namespace

SecretKey SecretKey::random() {
  init_sodium();
  SecretKey key;
  randombytes_buf(key.bytes_.data(), key.bytes_.size());
  return key;
}

SecretKey SecretKey::from_hex(std::string_view hex, const std::string& what) {
  init_sodium();
  SecretKey key;
  std::size_t len = 0;
  const char* end = nullptr;
  if (hex.size() != 2 * kSize ||
      sodium_hex2bin(key.bytes_.data(), key.bytes_.size(), hex.data(), hex.size(), nullptr, &len,
                     &end) != 0 ||
      len != kSize || end != hex.data() + hex.size()) {
    throw std::invalid_argument(what + " must be " + std::to_string(2 * kSize) + " hex digits (" +
                                std::to_string(kSize) + " bytes)");
  }
  return key;
}

SecretKey SecretKey::load_or_create(const std::filesystem::path& file) {
  init_sodium();
  bool missing = false;
  std::string text = read_small_file(file, missing);
  if (missing) {
    SecretKey key = random();
    const std::string_view bytes(reinterpret_cast<const char*>(key.bytes_.data()), kSize);
    if (!files::write_private_file(file, bytes, files::Existing::kKeep))
      return load_or_create(file);  // another process made it first
    return key;
  }
  if (text.size() == kSize) {
    SecretKey key;
    std::memcpy(key.bytes_.data(), text.data(), kSize);
    sodium_memzero(text.data(), text.size());
    return key;
  }
  std::string_view hex(text);
  while (!hex.empty() && (hex.back() == '\n' || hex.back() == '\r'))
    hex.remove_suffix(1);
  try {
    SecretKey key = from_hex(hex, "key file " + file.string());
    sodium_memzero(text.data(), text.size());
    return key;
  } catch (...) {
    sodium_memzero(text.data(), text.size());
    throw std::runtime_error("key file " + file.string() + " must hold " + std::to_string(kSize) +
                             " bytes, or " + std::to_string(2 * kSize) + " hex digits");
  }
}

SecretKey SecretKey::resolve(std::string_view hex, const std::filesystem::path& file,
                             const std::string& what) {
  if (!hex.empty())
    return from_hex(hex, what);
  return load_or_create(file);
}

SecretKey::SecretKey(SecretKey&& other) noexcept : bytes_(other.bytes_) {
  sodium_memzero(other.bytes_.data(), other.bytes_.size());
}

SecretKey& SecretKey::operator=(SecretKey&& other) noexcept {
  if (this != &other) {
    bytes_ = other.bytes_;
    sodium_memzero(other.bytes_.data(), other.bytes_.size());
  }
  return *this;
}

SecretKey::~SecretKey() {
  sodium_memzero(bytes_.data(), bytes_.size());
}

}  // namespace wonderland
