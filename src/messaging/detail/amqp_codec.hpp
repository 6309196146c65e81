// Conversions between Wonderland's types and rabbitmq-c's C structs: byte strings, field
// tables, message properties, exchange types and time-outs. For the files of
// src/messaging/detail that talk to rabbitmq-c; nothing else includes it.
#pragma once

#include <amqp.h>
#include <sys/time.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "detail/amqp.hpp"

namespace wonderland::messaging::detail {

/// A view of `s` for rabbitmq-c (which does not write through it); `s` must outlive it.
amqp_bytes_t bytes(const std::string& s);
std::string str(amqp_bytes_t b);
timeval to_timeval(std::chrono::milliseconds ms);
std::string_view exchange_type_name(ExchangeType t);

/// Builds an AMQP field table; owns the storage the C structs point into.
class TableBuilder {
 public:
  void add_string(std::string key, std::string value);
  void add_int(std::string key, std::int64_t value);
  /// The table; valid while the builder lives and is not changed.
  amqp_table_t table();
  bool empty() const { return keys_.empty(); }

 private:
  enum class Kind { kString, kInt };
  struct Entry {
    Kind kind;
    std::size_t string_index;
    std::int64_t int_value;
  };
  std::vector<std::string> keys_;
  std::vector<std::string> strings_;
  std::vector<Entry> kinds_;
  std::vector<amqp_table_entry_t> entries_;
};

/// The properties of a received message (header frame); empty when `bp` is null.
Properties read_properties(const amqp_basic_properties_t* bp);

/// The AMQP properties of a publish (content type JSON), with the storage the C struct points
/// into; `p` must outlive it.
class BasicProperties {
 public:
  explicit BasicProperties(const Properties& p);
  BasicProperties(const BasicProperties&) = delete;
  BasicProperties& operator=(const BasicProperties&) = delete;
  const amqp_basic_properties_t* get() const { return &bp_; }

 private:
  amqp_basic_properties_t bp_;
  TableBuilder headers_;
};

}  // namespace wonderland::messaging::detail
