#include "requests.hpp"

#include <algorithm>
#include <set>
#include <utility>

#include "wonderland/common/request_fields.hpp"
#include "wonderland/inventory/catalogue.hpp"
#include "wonderland/inventory/inventory.hpp"

namespace wonderland::inventory {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxQueryLength = 200;
constexpr std::int64_t kMaxPage = 1'000'000;

std::optional<std::int64_t> as_int(const json& j) {
  if (!j.is_number_integer())
    return std::nullopt;
  if (j.is_number_unsigned() && j.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
    return std::nullopt;
  }
  return j.get<std::int64_t>();
}

/// Escapes LIKE wildcards so that `q` matches literally (escape character '\').
std::string like_pattern(const std::string& q) {
  std::string out = "%";
  for (char c : q) {
    if (c == '%' || c == '_' || c == '\\')
      out += '\\';
    out += c;
  }
  return out + "%";
}

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos)
    return {};
  auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

/// Reads the optional integer `key` (min..max) into `out`, or records a field error.
void read_bounded(const json& body, const char* key, std::int64_t max, std::int64_t& out,
                  std::vector<FieldError>& fields) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null())
    return;
  auto v = as_int(*it);
  if (!v || *v < 1 || *v > max) {
    fields.push_back({key, "must be an integer from 1 to " + std::to_string(max)});
    return;
  }
  out = *v;
}

/// Reads the required quantity `key` (1..kMaxQuantity) of `item`, or records a field error
/// named `field`.
std::int64_t read_quantity(const json& item, const char* key, const std::string& field,
                           std::vector<FieldError>& fields) {
  auto quantity = item.find(key);
  std::optional<std::int64_t> q = quantity == item.end() ? std::nullopt : as_int(*quantity);
  if (!q || *q < 1 || *q > kMaxQuantity) {
    fields.push_back({field, "must be an integer from 1 to " + std::to_string(kMaxQuantity)});
    return 0;
  }
  return *q;
}

/// Reads line `i` of `items`, or records field errors; `seen` holds the ISBNs before it.
RequestedLine read_line(const json& item, std::size_t i, std::set<std::string>& seen,
                        std::vector<FieldError>& fields) {
  const std::string prefix = "items[" + std::to_string(i) + "].";
  RequestedLine line;
  auto isbn = item.find("isbn");
  if (isbn == item.end() || !isbn->is_string() || !is_isbn13_format(isbn->get<std::string>())) {
    fields.push_back({prefix + "isbn", "must be 13 digits"});
  } else if (!seen.insert(isbn->get<std::string>()).second) {
    fields.push_back({prefix + "isbn", "appears more than once"});
  } else {
    line.isbn = isbn->get<std::string>();
  }
  line.quantity = read_quantity(item, "quantity", prefix + "quantity", fields);
  return line;
}

/// Reads `items` (1..kMaxItems lines of {isbn, quantity}, distinct isbns), or records field
/// errors.
std::vector<RequestedLine> read_items(const json& body, std::vector<FieldError>& fields) {
  std::vector<RequestedLine> lines;
  auto it = body.find("items");
  if (it == body.end() || !it->is_array()) {
    fields.push_back({"items", "must be an array of {isbn, quantity}"});
    return lines;
  }
  if (it->empty()) {
    fields.push_back({"items", "must not be empty"});
    return lines;
  }
  if (it->size() > kMaxItems) {
    fields.push_back({"items", "must have at most " + std::to_string(kMaxItems) + " lines"});
    return lines;
  }
  std::set<std::string> seen;
  for (std::size_t i = 0; i < it->size(); ++i) {
    const json& item = (*it)[i];
    if (!item.is_object()) {
      fields.push_back({"items[" + std::to_string(i) + "]", "must be an object {isbn, quantity}"});
      continue;
    }
    lines.push_back(read_line(item, i, seen, fields));
  }
  return lines;
}

}  // namespace

Result<BookQuery> read_book_query(const json& body) {
  if (!body.is_object())
    return not_an_object();
  std::vector<FieldError> fields;
  BookQuery query;
  if (auto it = body.find("q"); it != body.end() && !it->is_null()) {
    if (!it->is_string() || it->get<std::string>().size() > kMaxQueryLength) {
      fields.push_back(
          {"q", "must be a string of at most " + std::to_string(kMaxQueryLength) + " characters"});
    } else if (std::string t = trim(it->get<std::string>()); !t.empty()) {
      query.pattern = like_pattern(t);
    }
  }
  read_bounded(body, "page", kMaxPage, query.page, fields);
  read_bounded(body, "page_size", kMaxPageSize, query.page_size, fields);
  if (!fields.empty())
    return invalid_fields(std::move(fields));
  return query;
}

Result<std::string> read_isbn(const json& body) {
  if (!body.is_object())
    return not_an_object();
  auto it = body.find("isbn");
  if (it == body.end() || !it->is_string() || !is_isbn13_format(it->get<std::string>())) {
    return invalid_fields({{"isbn", "must be 13 digits"}});
  }
  return it->get<std::string>();
}

Result<std::vector<std::string>> read_isbns(const json& body) {
  if (!body.is_object())
    return not_an_object();
  auto it = body.find("isbns");
  if (it == body.end() || !it->is_array() || it->empty() ||
      it->size() > static_cast<std::size_t>(kMaxPageSize)) {
    return invalid_fields(
        {{"isbns", "must be an array of 1 to " + std::to_string(kMaxPageSize) + " ISBNs"}});
  }
  std::vector<std::string> isbns;
  std::vector<FieldError> fields;
  for (std::size_t i = 0; i < it->size(); ++i) {
    const json& v = (*it)[i];
    if (!v.is_string() || !is_isbn13_format(v.get<std::string>())) {
      fields.push_back({"isbns[" + std::to_string(i) + "]", "must be 13 digits"});
    } else if (std::find(isbns.begin(), isbns.end(), v.get<std::string>()) == isbns.end()) {
      isbns.push_back(v.get<std::string>());
    }
  }
  if (!fields.empty())
    return invalid_fields(std::move(fields));
  return isbns;
}

Result<std::vector<RequestedLine>> read_lines(const json& body) {
  if (!body.is_object())
    return not_an_object();
  std::vector<FieldError> fields;
  std::vector<RequestedLine> lines = read_items(body, fields);
  if (!fields.empty())
    return invalid_fields(std::move(fields));
  return lines;
}

Result<ReserveRequest> read_reserve_request(const json& body) {
  if (!body.is_object())
    return not_an_object();
  std::vector<FieldError> fields;
  ReserveRequest request;
  read_uuid(body, "order_id", request.order_id, fields);
  request.lines = read_items(body, fields);
  if (!fields.empty())
    return invalid_fields(std::move(fields));
  return request;
}

Result<RestockRequest> read_restock_request(const json& body) {
  if (!body.is_object())
    return not_an_object();
  std::vector<FieldError> fields;
  RestockRequest request;
  read_uuid(body, "return_id", request.return_id, fields);
  auto isbn = body.find("isbn");
  if (isbn == body.end() || !isbn->is_string() || !is_isbn13_format(isbn->get<std::string>()))
    fields.push_back({"isbn", "must be 13 digits"});
  else
    request.isbn = isbn->get<std::string>();
  request.quantity = read_quantity(body, "quantity", "quantity", fields);
  if (!fields.empty())
    return invalid_fields(std::move(fields));
  return request;
}

Result<std::string> read_order_id(const json& body) {
  if (!body.is_object())
    return not_an_object();
  std::vector<FieldError> fields;
  std::string order_id;
  read_uuid(body, "order_id", order_id, fields);
  if (!fields.empty())
    return invalid_fields(std::move(fields));
  return order_id;
}

}  // namespace wonderland::inventory
