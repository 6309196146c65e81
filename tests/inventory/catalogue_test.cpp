// The catalogue file and the ISBN-13 checks.
#include "wonderland/inventory/catalogue.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "wonderland/testing/broker.hpp"

namespace wonderland::inventory {
namespace {

const std::string kCatalogue = std::string(WONDERLAND_SOURCE_DIR) + "/data/catalogue.json";

TEST(Isbn, FormatIsThirteenDigits) {
  EXPECT_TRUE(is_isbn13_format("9781492043454"));
  EXPECT_TRUE(is_isbn13_format("9781492043455"));  // format only, check digit not verified
  EXPECT_FALSE(is_isbn13_format("978149204345"));
  EXPECT_FALSE(is_isbn13_format("97814920434540"));
  EXPECT_FALSE(is_isbn13_format("978-1492043454"));
  EXPECT_FALSE(is_isbn13_format("978149204345X"));
  EXPECT_FALSE(is_isbn13_format(""));
}

TEST(Isbn, CheckDigitIsVerified) {
  EXPECT_TRUE(is_valid_isbn13("9781492043454"));
  EXPECT_TRUE(is_valid_isbn13("9780134434421"));
  EXPECT_TRUE(is_valid_isbn13("9780306406157"));
  EXPECT_FALSE(is_valid_isbn13("9781492043455"));
  EXPECT_FALSE(is_valid_isbn13("9780306406158"));
  EXPECT_FALSE(is_valid_isbn13("978030640615"));
}

TEST(Catalogue, HoldsTheFiveRequiredBooksExactly) {
  std::vector<Book> books = load_catalogue(kCatalogue);
  std::map<std::string, Book> by_isbn;
  for (const Book& b : books)
    by_isbn[b.isbn] = b;
  struct Expected {
    const char* isbn;
    const char* title;
    std::int64_t price_cents;
    std::int64_t stock;
  };
  const Expected expected[] = {
      {"9781492043454", "Fundamentals of Software Architecture", 5900, 50},
      {"9781492077541", "The Software Architect Elevator", 4900, 70},
      {"9781492092391", "Data Mesh", 5900, 90},
      {"9780134434421", "Domain-Driven Design Distilled", 3900, 55},
      {"9781492097549", "Building Evolutionary Architectures", 4500, 60},
  };
  for (const auto& e : expected) {
    ASSERT_TRUE(by_isbn.count(e.isbn)) << e.isbn;
    const Book& b = by_isbn[e.isbn];
    EXPECT_EQ(b.title, e.title);
    EXPECT_EQ(b.price_cents, e.price_cents) << e.title;
    EXPECT_EQ(b.stock, e.stock) << e.title;
  }
}

TEST(Catalogue, HasAtLeastTwentyDistinctValidBooks) {
  std::vector<Book> books = load_catalogue(kCatalogue);
  EXPECT_GE(books.size(), 20u);
  std::set<std::string> isbns;
  for (const Book& b : books) {
    EXPECT_TRUE(is_valid_isbn13(b.isbn)) << b.isbn << " " << b.title;
    EXPECT_TRUE(isbns.insert(b.isbn).second) << b.isbn;
    EXPECT_FALSE(b.title.empty());
    EXPECT_FALSE(b.author.empty()) << b.title;
    EXPECT_FALSE(b.publisher.empty()) << b.title;
    EXPECT_GT(b.price_cents, 0) << b.title;
    EXPECT_GE(b.stock, 0) << b.title;
  }
}

class BadCatalogue : public ::testing::Test {
 protected:
  std::string write(const std::string& content) {
    std::ofstream(path_) << content;
    return path_;
  }
  ~BadCatalogue() override { std::filesystem::remove(path_); }
  std::string path_ =
      (std::filesystem::temp_directory_path() / (testing::unique_name("catalogue") + ".json"))
          .string();
};

TEST_F(BadCatalogue, IsRefusedNamingTheEntry) {
  auto message_of = [](const std::string& p) {
    try {
      load_catalogue(p);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message_of("/nonexistent/catalogue.json").find("cannot be opened"), std::string::npos);
  EXPECT_NE(message_of(write("{not json")).find("not valid JSON"), std::string::npos);
  EXPECT_NE(message_of(write(R"([])")).find("'books' array"), std::string::npos);
  std::string bad_isbn = message_of(write(
      R"({"books":[{"isbn":"9781492043455","title":"T","author":"A","publisher":"P","price_cents":1,"stock":1}]})"));
  EXPECT_NE(bad_isbn.find("books[0]"), std::string::npos) << bad_isbn;
  EXPECT_NE(bad_isbn.find("not a valid ISBN-13"), std::string::npos) << bad_isbn;
  std::string bad_price = message_of(write(
      R"({"books":[{"isbn":"9781492043454","title":"T","author":"A","publisher":"P","price_cents":0,"stock":1}]})"));
  EXPECT_NE(bad_price.find("price_cents"), std::string::npos) << bad_price;
  std::string twice = message_of(write(
      R"({"books":[{"isbn":"9781492043454","title":"T","author":"A","publisher":"P","price_cents":1,"stock":1},
                   {"isbn":"9781492043454","title":"T","author":"A","publisher":"P","price_cents":1,"stock":1}]})"));
  EXPECT_NE(twice.find("appears twice"), std::string::npos) << twice;
}

}  // namespace
}  // namespace wonderland::inventory
