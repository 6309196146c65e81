// Secrets never leave the mediator in monitoring data, logs or events.
#pragma once

#include <nlohmann/json.hpp>

namespace wonderland::mediator {

/// A copy of `value` in which, at any depth, `card_number` keeps only its last four digits and
/// `cvv`, `password` and `token` are replaced by "[redacted]".
nlohmann::json redact(const nlohmann::json& value);

}  // namespace wonderland::mediator
