// What a log file holds, coarsely, so that a query can skip files that cannot contain a match:
// the time range, the severities, the services (up to a cap), a Bloom filter of the correlation
// ids and one of the messages' three-byte sequences (ASCII letters folded to lower case, as the
// text filter compares). Exact for "cannot match"; "may match" files are read. Internal to the
// store.
//
// `encode` / `decode` give a self-checking binary form, which the store keeps for rotated files
// (summary_cache.hpp) so that start-up need not read them.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
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
  /// Records taken into account.
  std::uint64_t rows() const noexcept { return rows_; }

  /// The binary form, ending with a checksum of what precedes it.
  std::string encode() const;
  /// `encode`'s output back; nullopt when `bytes` is not such a form (cut short, damaged).
  static std::optional<FileSummary> decode(std::string_view bytes);

  friend bool operator==(const FileSummary&, const FileSummary&) = default;

 private:
  static constexpr std::size_t kMaxServices = 256;
  static constexpr std::uint64_t kBits = std::uint64_t{1}
                                         << 19;  // 64 KiB: ~1% false positives at 50k ids
  static constexpr std::uint64_t kHashes = 4;
  static constexpr unsigned kTextBitsLog2 = 20;  // 128 KiB, one bit per trigram
  using BloomBits = std::array<std::uint64_t, kHashes>;

  /// The Bloom filter's bits for `id`.
  static BloomBits bloom_bits(std::string_view id);
  /// The text filter's bit for the trigram ending at `text[i]` (folded), i >= 2.
  static std::uint64_t trigram_bit(std::string_view text, std::size_t i);
  bool may_have_severity(const Filter& filter) const;
  bool may_have_correlation_id(std::string_view id) const;
  bool may_have_text(std::string_view needle) const;
  bool decode_body(std::string_view& in);

  std::uint64_t rows_ = 0;
  SystemTime min_time_{};
  SystemTime max_time_{};
  std::array<std::uint64_t, 4> severities_{};
  std::set<std::string, std::less<>> services_;
  bool services_overflow_ = false;
  std::vector<std::uint64_t> bloom_ = std::vector<std::uint64_t>(kBits / 64, 0);
  std::vector<std::uint64_t> text_ =
      std::vector<std::uint64_t>((std::uint64_t{1} << kTextBitsLog2) / 64, 0);
};

}  // namespace wonderland::log_store
