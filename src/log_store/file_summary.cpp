// FileSummary: the coarse per-file summary a query uses to skip files (file_summary.hpp).
#include "file_summary.hpp"

namespace wonderland::log_store {

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
  return !filter.correlation_id || may_have_correlation_id(*filter.correlation_id);
}

FileSummary::BloomBits FileSummary::bloom_bits(std::string_view id) {
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (char c : id) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  const std::uint64_t h2 = ((h >> 33) ^ (h * 0x9E3779B97F4A7C15ULL)) | 1;
  BloomBits bits{};
  for (std::uint64_t k = 0; k < kHashes; ++k)
    bits[k] = (h + k * h2) % kBits;
  return bits;
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

}  // namespace wonderland::log_store
