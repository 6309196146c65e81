// Reading the inventory commands' request bodies (private to the inventory component): every
// check answers invalid_argument naming the wrong fields, as docs/commands.md lists them.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "wonderland/common/error.hpp"
#include "wonderland/inventory/protocol.hpp"

namespace wonderland::inventory {

/// A list_books request, checked.
struct BookQuery {
  std::optional<std::string> pattern;  ///< a LIKE pattern of the trimmed `q`; unset: every book
  std::int64_t page = 1;
  std::int64_t page_size = 20;
};

/// `{q?, page?, page_size?}`.
Result<BookQuery> read_book_query(const nlohmann::json& body);
/// `{isbn}`.
Result<std::string> read_isbn(const nlohmann::json& body);
/// `{isbns:[isbn]}`: the distinct ISBNs, in the order asked.
Result<std::vector<std::string>> read_isbns(const nlohmann::json& body);
/// `{items:[{isbn, quantity}]}`.
Result<std::vector<RequestedLine>> read_lines(const nlohmann::json& body);

/// A reserve request, checked.
struct ReserveRequest {
  std::string order_id;
  std::vector<RequestedLine> lines;
};

/// `{order_id, items}`.
Result<ReserveRequest> read_reserve_request(const nlohmann::json& body);
/// A restock request, checked.
struct RestockRequest {
  std::string return_id;
  std::string isbn;
  std::int64_t quantity = 0;
};

/// `{return_id, isbn, quantity}`.
Result<RestockRequest> read_restock_request(const nlohmann::json& body);
/// `{order_id}` (confirm, release).
Result<std::string> read_order_id(const nlohmann::json& body);

}  // namespace wonderland::inventory
