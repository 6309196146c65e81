// The shared request body checks (request_fields.hpp).
#include "wonderland/common/request_fields.hpp"

#include <nlohmann/json.hpp>
#include <utility>

#include "wonderland/common/ids.hpp"

namespace wonderland {

std::string describe_fields(const std::vector<FieldError>& fields) {
  std::string text;
  for (const FieldError& f : fields) {
    if (!text.empty())
      text += "; ";
    text += f.field + " " + f.message;
  }
  return text;
}

Error invalid_fields(std::vector<FieldError> fields) {
  std::string message = "invalid request";
  if (!fields.empty())
    message += ": " + describe_fields(fields);
  return Error::invalid(std::move(message), std::move(fields));
}

Error not_an_object() {
  return Error::of(codes::kInvalidArgument, "the request body must be a JSON object");
}

void read_uuid(const nlohmann::json& body, const char* key, std::string& out,
               std::vector<FieldError>& fields) {
  auto it = body.find(key);
  if (it == body.end() || !it->is_string() || !is_uuid(it->get<std::string>())) {
    fields.push_back({key, "must be a UUID"});
    return;
  }
  out = it->get<std::string>();
}

}  // namespace wonderland
