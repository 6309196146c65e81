// FileSummary: the coarse per-file summary a query uses to skip files (file_summary.hpp).
#include "file_summary.hpp"

#include <cstring>

namespace wonderland::log_store {
namespace {

constexpr std::string_view kMagic = "WLSUM01\n";  // the form's name and version

unsigned char fold(unsigned char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<unsigned char>(c - 'A' + 'a') : c;
}

std::uint64_t fnv1a(std::string_view bytes) noexcept {
  std::uint64_t h = 1469598103934665603ULL;
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

// Fixed-width integers in the host's byte order: the form is a cache of this machine's files.
void put(std::string& out, std::uint64_t v) {
  char b[sizeof v];
  std::memcpy(b, &v, sizeof v);
  out.append(b, sizeof v);
}

bool take(std::string_view& in, std::uint64_t& v) {
  if (in.size() < sizeof v)
    return false;
  std::memcpy(&v, in.data(), sizeof v);
  in.remove_prefix(sizeof v);
  return true;
}

bool take_words(std::string_view& in, std::vector<std::uint64_t>& words) {
  const std::size_t bytes = words.size() * sizeof(std::uint64_t);
  if (in.size() < bytes)
    return false;
  std::memcpy(words.data(), in.data(), bytes);
  in.remove_prefix(bytes);
  return true;
}

void put_words(std::string& out, const std::vector<std::uint64_t>& words) {
  out.append(reinterpret_cast<const char*>(words.data()), words.size() * sizeof(std::uint64_t));
}

}  // namespace

void FileSummary::add(const Record& record) {
  if (rows_ == 0 || record.time < min_time_)
    min_time_ = record.time;
  if (rows_ == 0 || record.time > max_time_)
    max_time_ = record.time;
  ++rows_;
  ++severities_[static_cast<std::size_t>(record.severity)];
  if (!services_overflow_ && services_.insert(record.service).second &&
      services_.size() > kMaxServices) {
    services_overflow_ = true;
    services_.clear();
  }
  for (std::uint64_t bit : bloom_bits(record.correlation_id))
    bloom_[bit / 64] |= std::uint64_t{1} << (bit % 64);
  for (std::size_t i = 2; i < record.message.size(); ++i) {
    std::uint64_t bit = trigram_bit(record.message, i);
    text_[bit / 64] |= std::uint64_t{1} << (bit % 64);
  }
}

bool FileSummary::may_match(const Filter& filter) const {
  if (rows_ == 0)
    return false;
  if (filter.since && max_time_ < *filter.since)
    return false;
  if (filter.until && min_time_ >= *filter.until)
    return false;
  if (!may_have_severity(filter))
    return false;
  if (filter.service && !services_overflow_ && services_.count(*filter.service) == 0)
    return false;
  if (filter.text && !may_have_text(*filter.text))
    return false;
  return !filter.correlation_id || may_have_correlation_id(*filter.correlation_id);
}

FileSummary::BloomBits FileSummary::bloom_bits(std::string_view id) {
  const std::uint64_t h = fnv1a(id);
  const std::uint64_t h2 = ((h >> 33) ^ (h * 0x9E3779B97F4A7C15ULL)) | 1;
  BloomBits bits{};
  for (std::uint64_t k = 0; k < kHashes; ++k)
    bits[k] = (h + k * h2) % kBits;
  return bits;
}

std::uint64_t FileSummary::trigram_bit(std::string_view text, std::size_t i) {
  const std::uint64_t t = (std::uint64_t{fold(static_cast<unsigned char>(text[i - 2]))} << 16) |
                          (std::uint64_t{fold(static_cast<unsigned char>(text[i - 1]))} << 8) |
                          fold(static_cast<unsigned char>(text[i]));
  return ((t + 1) * 0x9E3779B97F4A7C15ULL) >> (64 - kTextBitsLog2);
}

bool FileSummary::may_have_severity(const Filter& filter) const {
  if (filter.severity && severities_[static_cast<std::size_t>(*filter.severity)] == 0)
    return false;
  if (filter.min_severity) {
    std::uint64_t n = 0;
    for (auto i = static_cast<std::size_t>(*filter.min_severity); i < severities_.size(); ++i)
      n += severities_[i];
    if (n == 0)
      return false;
  }
  return true;
}

bool FileSummary::may_have_correlation_id(std::string_view id) const {
  for (std::uint64_t bit : bloom_bits(id)) {
    if ((bloom_[bit / 64] & (std::uint64_t{1} << (bit % 64))) == 0)
      return false;
  }
  return true;
}

bool FileSummary::may_have_text(std::string_view needle) const {
  // A needle shorter than a trigram may match anything; a longer one needs all its trigrams.
  for (std::size_t i = 2; i < needle.size(); ++i) {
    std::uint64_t bit = trigram_bit(needle, i);
    if ((text_[bit / 64] & (std::uint64_t{1} << (bit % 64))) == 0)
      return false;
  }
  return true;
}

std::string FileSummary::encode() const {
  std::string out(kMagic);
  put(out, rows_);
  put(out, static_cast<std::uint64_t>(min_time_.time_since_epoch().count()));
  put(out, static_cast<std::uint64_t>(max_time_.time_since_epoch().count()));
  for (std::uint64_t n : severities_)
    put(out, n);
  put(out, services_overflow_ ? 1 : 0);
  put(out, services_.size());
  for (const auto& s : services_) {
    put(out, s.size());
    out.append(s);
  }
  put_words(out, bloom_);
  put_words(out, text_);
  put(out, fnv1a(out));
  return out;
}

std::optional<FileSummary> FileSummary::decode(std::string_view bytes) {
  std::uint64_t sum = 0;
  if (bytes.size() < kMagic.size() + sizeof sum || bytes.substr(0, kMagic.size()) != kMagic)
    return std::nullopt;
  std::string_view trailer = bytes.substr(bytes.size() - sizeof sum);
  bytes.remove_suffix(sizeof sum);
  if (!take(trailer, sum) || sum != fnv1a(bytes))
    return std::nullopt;
  bytes.remove_prefix(kMagic.size());
  FileSummary s;
  if (!s.decode_body(bytes) || !bytes.empty())
    return std::nullopt;
  return s;
}

bool FileSummary::decode_body(std::string_view& in) {
  std::uint64_t min = 0;
  std::uint64_t max = 0;
  std::uint64_t overflow = 0;
  std::uint64_t services = 0;
  if (!take(in, rows_) || !take(in, min) || !take(in, max))
    return false;
  min_time_ = SystemTime(SystemTime::duration(static_cast<SystemTime::rep>(min)));
  max_time_ = SystemTime(SystemTime::duration(static_cast<SystemTime::rep>(max)));
  for (std::uint64_t& n : severities_) {
    if (!take(in, n))
      return false;
  }
  if (!take(in, overflow) || overflow > 1 || !take(in, services) || services > kMaxServices)
    return false;
  services_overflow_ = overflow == 1;
  for (std::uint64_t k = 0; k < services; ++k) {
    std::uint64_t size = 0;
    if (!take(in, size) || size > in.size())
      return false;
    services_.emplace(in.substr(0, size));
    in.remove_prefix(size);
  }
  return take_words(in, bloom_) && take_words(in, text_);
}

}  // namespace wonderland::log_store
