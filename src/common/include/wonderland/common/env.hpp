// Configuration from the environment. Every process reads its settings through these helpers,
// so that defaults live next to the code that uses them and every variable is documented in the
// README's table.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace wonderland::env {

/// The variable's value, or `fallback` when it is unset or empty.
std::string get(const char* name, const std::string& fallback);
/// Parses an integer; throws std::invalid_argument naming the variable when it is not one.
std::int64_t get_int(const char* name, std::int64_t fallback);
/// get_int, then checks the value (the fallback too) against [min, max]; throws
/// std::invalid_argument "environment variable NAME=V is out of range MIN..MAX" outside it.
std::int64_t get_int_in_range(const char* name, std::int64_t fallback, std::int64_t min,
                              std::int64_t max);
/// Parses a boolean: 1/0, true/false, yes/no, on/off.
bool get_bool(const char* name, bool fallback);
/// Parses a duration in milliseconds.
std::chrono::milliseconds get_ms(const char* name, std::chrono::milliseconds fallback);
/// Parses a fraction in [0, 1].
double get_fraction(const char* name, double fallback);

}  // namespace wonderland::env
