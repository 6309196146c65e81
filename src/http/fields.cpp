#include "wonderland/http/fields.hpp"

#include <charconv>
#include <cmath>
#include <utility>

namespace wonderland::http {

namespace {

std::string integer_range_message(const IntegerRule& rule) {
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  if (rule.min != kMin && rule.max != kMax) {
    return "must be an integer between " + std::to_string(rule.min) + " and " +
           std::to_string(rule.max);
  }
  if (rule.min != kMin)
    return "must be an integer of at least " + std::to_string(rule.min);
  if (rule.max != kMax)
    return "must be an integer of at most " + std::to_string(rule.max);
  return "must be an integer";
}

// Checks a string against its rule; returns an error message or empty.
std::string check_string(std::string_view value, const StringRule& rule) {
  if (value.size() < rule.min_length) {
    if (rule.min_length == 1)
      return "must not be empty";
    return "must be at least " + std::to_string(rule.min_length) + " characters";
  }
  if (value.size() > rule.max_length) {
    return "must be at most " + std::to_string(rule.max_length) + " characters";
  }
  return {};
}

bool in_range(std::int64_t v, const IntegerRule& rule) {
  return v >= rule.min && v <= rule.max;
}

std::optional<std::int64_t> parse_int(std::string_view text) {
  std::int64_t v = 0;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  if (begin != end && *begin == '+')
    ++begin;
  auto [ptr, ec] = std::from_chars(begin, end, v);
  if (ec != std::errc() || ptr != end || begin == end)
    return std::nullopt;
  return v;
}

}  // namespace

void FieldErrors::add(std::string field, std::string message) {
  errors_.push_back(FieldError{std::move(field), std::move(message)});
}

Error FieldErrors::error(std::string message) const {
  if (message.empty()) {
    message = "invalid field";
    if (errors_.size() != 1)
      message += "s";
    message += ":";
    for (std::size_t i = 0; i < errors_.size(); ++i) {
      message += (i == 0 ? " " : ", ") + errors_[i].field;
    }
  }
  Error e = Error::of(codes::kInvalidArgument, std::move(message));
  e.fields = errors_;
  return e;
}

Problem FieldErrors::problem(std::string instance) const {
  return Problem::from_error(error(), std::move(instance));
}

Response FieldErrors::response(std::string_view instance) const {
  return Response::problem(problem(std::string(instance)));
}

// ---- JsonFields -------------------------------------------------------------------------

const nlohmann::json* JsonFields::find(std::string_view name) const {
  if (!object_.is_object())
    return nullptr;
  auto it = object_.find(name);
  if (it == object_.end() || it->is_null())
    return nullptr;
  return &*it;
}

std::optional<std::string> JsonFields::optional_string(std::string_view name, StringRule rule) {
  const auto* v = find(name);
  if (v == nullptr)
    return std::nullopt;
  if (!v->is_string()) {
    add(std::string(name), "must be a string");
    return std::nullopt;
  }
  const auto& s = v->get_ref<const std::string&>();
  if (auto msg = check_string(s, rule); !msg.empty()) {
    add(std::string(name), std::move(msg));
    return std::nullopt;
  }
  return s;
}

std::string JsonFields::required_string(std::string_view name, StringRule rule) {
  if (find(name) == nullptr) {
    add(std::string(name), "is required");
    return {};
  }
  return optional_string(name, rule).value_or(std::string{});
}

std::optional<std::int64_t> JsonFields::optional_integer(std::string_view name, IntegerRule rule) {
  const auto* v = find(name);
  if (v == nullptr)
    return std::nullopt;
  std::optional<std::int64_t> value;
  if (v->is_number_integer()) {
    if (v->is_number_unsigned() &&
        v->get<std::uint64_t>() >
            static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      value.reset();
    } else {
      value = v->get<std::int64_t>();
    }
  } else if (v->is_number_float()) {
    double d = v->get<double>();
    // 3.0 is accepted as 3; 3.5 is not an integer.
    if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) < 9.0e15) {
      value = static_cast<std::int64_t>(d);
    }
  }
  if (!value || !in_range(*value, rule)) {
    add(std::string(name), integer_range_message(rule));
    return std::nullopt;
  }
  return value;
}

std::int64_t JsonFields::required_integer(std::string_view name, IntegerRule rule) {
  if (find(name) == nullptr) {
    add(std::string(name), "is required");
    return 0;
  }
  return optional_integer(name, rule).value_or(0);
}

std::optional<double> JsonFields::optional_number(std::string_view name) {
  const auto* v = find(name);
  if (v == nullptr)
    return std::nullopt;
  if (!v->is_number()) {
    add(std::string(name), "must be a number");
    return std::nullopt;
  }
  return v->get<double>();
}

double JsonFields::required_number(std::string_view name) {
  if (find(name) == nullptr) {
    add(std::string(name), "is required");
    return 0;
  }
  return optional_number(name).value_or(0);
}

std::optional<bool> JsonFields::optional_bool(std::string_view name) {
  const auto* v = find(name);
  if (v == nullptr)
    return std::nullopt;
  if (!v->is_boolean()) {
    add(std::string(name), "must be true or false");
    return std::nullopt;
  }
  return v->get<bool>();
}

bool JsonFields::required_bool(std::string_view name) {
  if (find(name) == nullptr) {
    add(std::string(name), "is required");
    return false;
  }
  return optional_bool(name).value_or(false);
}

std::vector<std::string> JsonFields::string_array(std::string_view name, bool required,
                                                  StringRule rule) {
  std::vector<std::string> out;
  const auto* v = find(name);
  if (v == nullptr) {
    if (required)
      add(std::string(name), "is required");
    return out;
  }
  if (!v->is_array()) {
    add(std::string(name), "must be an array of strings");
    return out;
  }
  std::size_t i = 0;
  for (const auto& item : *v) {
    std::string field = std::string(name) + "[" + std::to_string(i++) + "]";
    if (!item.is_string()) {
      add(std::move(field), "must be a string");
      continue;
    }
    const auto& s = item.get_ref<const std::string&>();
    if (auto msg = check_string(s, rule); !msg.empty()) {
      add(std::move(field), std::move(msg));
      continue;
    }
    out.push_back(s);
  }
  return out;
}

nlohmann::json JsonFields::required_object(std::string_view name) {
  const auto* v = find(name);
  if (v == nullptr) {
    add(std::string(name), "is required");
    return nullptr;
  }
  if (!v->is_object()) {
    add(std::string(name), "must be an object");
    return nullptr;
  }
  return *v;
}

nlohmann::json JsonFields::required_array(std::string_view name) {
  const auto* v = find(name);
  if (v == nullptr) {
    add(std::string(name), "is required");
    return nullptr;
  }
  if (!v->is_array()) {
    add(std::string(name), "must be an array");
    return nullptr;
  }
  return *v;
}

// ---- QueryFields ------------------------------------------------------------------------

std::optional<std::string> QueryFields::optional_string(std::string_view name, StringRule rule) {
  auto v = request_.query(name);
  if (!v)
    return std::nullopt;
  if (auto msg = check_string(*v, rule); !msg.empty()) {
    add(std::string(name), std::move(msg));
    return std::nullopt;
  }
  return std::string(*v);
}

std::string QueryFields::required_string(std::string_view name, StringRule rule) {
  if (!request_.query(name)) {
    add(std::string(name), "is required");
    return {};
  }
  return optional_string(name, rule).value_or(std::string{});
}

std::optional<std::int64_t> QueryFields::optional_integer(std::string_view name, IntegerRule rule) {
  auto v = request_.query(name);
  if (!v)
    return std::nullopt;
  auto n = parse_int(*v);
  if (!n || !in_range(*n, rule)) {
    add(std::string(name), integer_range_message(rule));
    return std::nullopt;
  }
  return n;
}

std::int64_t QueryFields::required_integer(std::string_view name, IntegerRule rule) {
  if (!request_.query(name)) {
    add(std::string(name), "is required");
    return 0;
  }
  return optional_integer(name, rule).value_or(0);
}

std::optional<bool> QueryFields::optional_bool(std::string_view name) {
  auto v = request_.query(name);
  if (!v)
    return std::nullopt;
  if (v->empty() || *v == "true" || *v == "1")
    return true;
  if (*v == "false" || *v == "0")
    return false;
  add(std::string(name), "must be true or false");
  return std::nullopt;
}

}  // namespace wonderland::http
