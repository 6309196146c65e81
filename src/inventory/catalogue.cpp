#include "wonderland/inventory/catalogue.hpp"

#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

namespace wonderland::inventory {

nlohmann::json Book::to_json() const {
  return nlohmann::json{{"isbn", isbn},
                        {"title", title},
                        {"author", author},
                        {"publisher", publisher},
                        {"price_cents", price_cents},
                        {"stock", stock}};
}

bool is_isbn13_format(std::string_view s) {
  if (s.size() != 13)
    return false;
  for (char c : s) {
    if (c < '0' || c > '9')
      return false;
  }
  return true;
}

bool is_valid_isbn13(std::string_view s) {
  if (!is_isbn13_format(s))
    return false;
  int sum = 0;
  for (std::size_t i = 0; i < 12; ++i)
    sum += (s[i] - '0') * (i % 2 == 0 ? 1 : 3);
  return (10 - sum % 10) % 10 == s[12] - '0';
}

namespace {

std::string required_text(const nlohmann::json& entry, const char* key) {
  auto it = entry.find(key);
  if (it == entry.end() || !it->is_string() || it->get<std::string>().empty()) {
    throw std::runtime_error(std::string("'") + key + "' must be a non-empty string");
  }
  return it->get<std::string>();
}

std::int64_t required_int(const nlohmann::json& entry, const char* key, std::int64_t min) {
  auto it = entry.find(key);
  if (it == entry.end() || !it->is_number_integer() || it->get<std::int64_t>() < min) {
    throw std::runtime_error(std::string("'") + key +
                             "' must be an integer >= " + std::to_string(min));
  }
  return it->get<std::int64_t>();
}

}  // namespace

std::vector<Book> load_catalogue(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    throw std::runtime_error("catalogue " + path + ": cannot be opened");
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error("catalogue " + path + ": not valid JSON: " + e.what());
  }
  if (!doc.is_object() || !doc.contains("books") || !doc["books"].is_array()) {
    throw std::runtime_error("catalogue " + path + ": expected an object with a 'books' array");
  }
  std::vector<Book> books;
  std::set<std::string> seen;
  std::size_t index = 0;
  for (const auto& entry : doc["books"]) {
    try {
      if (!entry.is_object())
        throw std::runtime_error("not an object");
      Book b;
      b.isbn = required_text(entry, "isbn");
      if (!is_valid_isbn13(b.isbn))
        throw std::runtime_error("'" + b.isbn + "' is not a valid ISBN-13");
      if (!seen.insert(b.isbn).second)
        throw std::runtime_error("ISBN " + b.isbn + " appears twice");
      b.title = required_text(entry, "title");
      b.author = required_text(entry, "author");
      b.publisher = required_text(entry, "publisher");
      b.price_cents = required_int(entry, "price_cents", 1);
      b.stock = required_int(entry, "stock", 0);
      books.push_back(std::move(b));
    } catch (const std::runtime_error& e) {
      throw std::runtime_error("catalogue " + path + ": books[" + std::to_string(index) +
                               "]: " + e.what());
    }
    ++index;
  }
  return books;
}

}  // namespace wonderland::inventory
