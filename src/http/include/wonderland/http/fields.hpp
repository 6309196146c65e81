// Typed field extraction that collects every field error, for 400 responses with `errors`.
//
//   auto body = req.json_object();
//   if (!body) return Response::error(body.error(), req.path());
//   JsonFields f(*body);
//   std::string isbn = f.required_string("isbn", {.min_length = 10, .max_length = 17});
//   std::int64_t qty = f.required_integer("quantity", {.min = 1, .max = 100});
//   std::optional<std::string> note = f.optional_string("note");
//   if (!f.ok()) return f.response(req.path());   // 400, errors: [{field, message}, ...]
//
//   QueryFields q(req);
//   auto limit = q.optional_integer("limit", {.min = 1, .max = 500}).value_or(50);
//
// A getter whose field is missing or invalid records an error and returns a default value
// (empty string, 0, false, nullopt), so a handler reads all fields, then checks ok() once.
// Messages are short and meant for people: "is required", "must be a string",
// "must be at most 17 characters", "must be an integer between 1 and 100".
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wonderland/common/error.hpp"
#include "wonderland/http/problem.hpp"
#include "wonderland/http/request.hpp"
#include "wonderland/http/response.hpp"

namespace wonderland::http {

struct StringRule {
  std::size_t min_length = 0;  ///< in bytes
  std::size_t max_length = std::numeric_limits<std::size_t>::max();
};

struct IntegerRule {
  std::int64_t min = std::numeric_limits<std::int64_t>::min();
  std::int64_t max = std::numeric_limits<std::int64_t>::max();
};

/// Collected field errors.
class FieldErrors {
 public:
  /// Records an error for `field` (a JSON member or query parameter name).
  void add(std::string field, std::string message);
  bool ok() const { return errors_.empty(); }
  const std::vector<FieldError>& errors() const { return errors_; }
  /// An `invalid_argument` Error with the fields; `message` defaults to a summary naming them.
  Error error(std::string message = {}) const;
  /// A 400 problem with `errors`.
  Problem problem(std::string instance = {}) const;
  /// A 400 problem+json response with `errors`.
  Response response(std::string_view instance = {}) const;

 protected:
  std::vector<FieldError> errors_;
};

/// Reads the members of a JSON object. `null` counts as absent.
class JsonFields : public FieldErrors {
 public:
  /// `object` must outlive this reader; when it is not an object every getter reports errors.
  explicit JsonFields(const nlohmann::json& object) : object_(object) {}

  std::string required_string(std::string_view name, StringRule rule = {});
  std::optional<std::string> optional_string(std::string_view name, StringRule rule = {});
  std::int64_t required_integer(std::string_view name, IntegerRule rule = {});
  std::optional<std::int64_t> optional_integer(std::string_view name, IntegerRule rule = {});
  double required_number(std::string_view name);
  std::optional<double> optional_number(std::string_view name);
  bool required_bool(std::string_view name);
  std::optional<bool> optional_bool(std::string_view name);
  /// An array of strings; each element is checked against `rule` ("tags[2]: ...").
  std::vector<std::string> string_array(std::string_view name, bool required = false,
                                        StringRule rule = {});
  /// A nested object or array, unchecked beyond its type; returns null when absent/invalid.
  nlohmann::json required_object(std::string_view name);
  nlohmann::json required_array(std::string_view name);

 private:
  const nlohmann::json* find(std::string_view name) const;
  const nlohmann::json& object_;
};

/// Reads decoded query parameters (first value of each name).
class QueryFields : public FieldErrors {
 public:
  /// `request` must outlive this reader.
  explicit QueryFields(const Request& request) : request_(request) {}

  std::string required_string(std::string_view name, StringRule rule = {});
  std::optional<std::string> optional_string(std::string_view name, StringRule rule = {});
  std::int64_t required_integer(std::string_view name, IntegerRule rule = {});
  std::optional<std::int64_t> optional_integer(std::string_view name, IntegerRule rule = {});
  /// Accepts true/false/1/0; a bare `?flag` is true.
  std::optional<bool> optional_bool(std::string_view name);

 private:
  const Request& request_;
};

}  // namespace wonderland::http
