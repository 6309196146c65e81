// The book catalogue: the Book record, ISBN-13 checks and the seed file (data/catalogue.json).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace wonderland::inventory {

/// A book as the inventory sells it. `stock` is what can still be bought: copies on hand minus
/// copies held by open reservations. Never negative.
struct Book {
  std::string isbn;  ///< 13 digits, no hyphens
  std::string title;
  std::string author;
  std::string publisher;
  std::int64_t price_cents = 0;
  std::int64_t stock = 0;

  /// `{isbn, title, author, publisher, price_cents, stock}`, as in docs/commands.md.
  nlohmann::json to_json() const;
  friend bool operator==(const Book&, const Book&) = default;
};

/// Whether `s` is exactly 13 ASCII digits (the format commands accept for an ISBN).
bool is_isbn13_format(std::string_view s);

/// Whether `s` is a valid ISBN-13: 13 digits whose last is the check digit of the first 12
/// (weights 1 and 3 alternating, sum divisible by 10).
bool is_valid_isbn13(std::string_view s);

/// Reads a catalogue file: `{"books": [Book, ...]}`. Every entry needs a valid ISBN-13 (check
/// digit included), a non-empty title, author and publisher, price_cents > 0 and stock >= 0;
/// ISBNs are unique. Throws std::runtime_error naming the file and the offending entry when the
/// file cannot be read or an entry is wrong.
std::vector<Book> load_catalogue(const std::string& path);

}  // namespace wonderland::inventory
