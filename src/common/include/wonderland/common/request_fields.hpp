// Reading a command's JSON request body field by field: the checks the services share, and the
// invalid_argument error that names every wrong field (see FieldError in error.hpp).
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "wonderland/common/error.hpp"

namespace wonderland {

/// The fields and their problems, "<field> <message>", joined by "; ": "a is required; b must
/// be a UUID". Empty for no fields.
std::string describe_fields(const std::vector<FieldError>& fields);

/// invalid_argument naming `fields`, with the message "invalid request: <describe_fields>"
/// ("invalid request" alone for no fields).
Error invalid_fields(std::vector<FieldError> fields);

/// invalid_argument: "the request body must be a JSON object".
Error not_an_object();

/// Reads the required UUID `key` of the object `body` into `out`; when it is absent, not a
/// string or not a UUID, records `{key, "must be a UUID"}` in `fields` and leaves `out` alone.
void read_uuid(const nlohmann::json& body, const char* key, std::string& out,
               std::vector<FieldError>& fields);

}  // namespace wonderland
