// What a log file holds, coarsely, so that a query can skip files that cannot contain a match:
// the time range, the severities, the services (up to a cap) and a Bloom filter of the
// correlation ids. Exact for "cannot match"; "may match" files are read. Internal to the store.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wonderland/log_store/filter.hpp"
#include "wonderland/log_store/record.hpp"

namespace wonderland::log_store {

class FileSummary {
 public:
  /// Takes `record` into account (a record written to, or read from, the file).
  void add(const Record& record);
  /// False only when no record of the file can match `filter`.
  bool may_match(const Filter& filter) const;

 private:
  static constexpr std::size_t kMaxServices = 256;
  static constexpr std::uint64_t kBits = std::uint64_t{1}
                                         << 19;  // 64 KiB: ~1% false positives at 50k ids
  static constexpr std::uint64_t kHashes = 4;
  using BloomBits = std::array<std::uint64_t, kHashes>;

  /// The Bloom filter's bits for `id`.
  static BloomBits bloom_bits(std::string_view id);
  bool may_have_severity(const Filter& filter) const;
  bool may_have_correlation_id(std::string_view id) const;

  std::uint64_t rows_ = 0;
  SystemTime min_time_{};
  SystemTime max_time_{};
  std::array<std::uint64_t, 4> severities_{};
  std::set<std::string, std::less<>> services_;
  bool services_overflow_ = false;
  std::vector<std::uint64_t> bloom_ = std::vector<std::uint64_t>(kBits / 64, 0);
};

}  // namespace wonderland::log_store
