// Keeping secrets out of logs.
//
// Never log passwords, password hashes, session or API tokens, full payment card numbers or
// security codes (CVV), not even at debug level: log records leave the process (stderr is
// collected, and records are forwarded to the broker). Log an identifier of the thing instead
// (user id, order id), or a masked form such as `mask_card`.
#pragma once

#include <string>
#include <string_view>

namespace wonderland::log {

/// A payment card number masked for logging: only its last four digits remain, as
/// "**** **** **** 4242". Spaces, dashes and other non-digits in `number` are ignored. When
/// `number` has fewer than 12 digits (shorter than any card number, e.g. a security code or a
/// PIN) no digit is revealed and the result is "****".
std::string mask_card(std::string_view number);

}  // namespace wonderland::log
