// Conversions between Wonderland's types and rabbitmq-c's C structs.
#include "detail/amqp_codec.hpp"

#include <cstring>
#include <optional>

namespace wonderland::messaging::detail {
namespace {

/// The value of an integer field; nullopt for other kinds.
std::optional<std::int64_t> int_value(const amqp_field_value_t& v) {
  switch (v.kind) {
    case AMQP_FIELD_KIND_I8:
      return v.value.i8;
    case AMQP_FIELD_KIND_U8:
      return v.value.u8;
    case AMQP_FIELD_KIND_I16:
      return v.value.i16;
    case AMQP_FIELD_KIND_U16:
      return v.value.u16;
    case AMQP_FIELD_KIND_I32:
      return v.value.i32;
    case AMQP_FIELD_KIND_U32:
      return v.value.u32;
    case AMQP_FIELD_KIND_I64:
      return v.value.i64;
    case AMQP_FIELD_KIND_U64:
      return static_cast<std::int64_t>(v.value.u64);
    default:
      return std::nullopt;
  }
}

void read_headers(const amqp_table_t& t, Properties& p) {
  for (int i = 0; i < t.num_entries; ++i) {
    const amqp_table_entry_t& e = t.entries[i];
    std::string key = str(e.key);
    if (auto n = int_value(e.value)) {
      p.int_headers.emplace_back(key, *n);
    } else if (e.value.kind == AMQP_FIELD_KIND_UTF8 || e.value.kind == AMQP_FIELD_KIND_BYTES) {
      p.string_headers.emplace_back(key, str(e.value.value.bytes));
    }
    // x-death and other structured headers are not used by Wonderland.
  }
}

}  // namespace

amqp_bytes_t bytes(const std::string& s) {
  amqp_bytes_t b;
  b.len = s.size();
  b.bytes = const_cast<char*>(s.data());
  return b;
}

std::string str(amqp_bytes_t b) {
  return b.len == 0 ? std::string() : std::string(static_cast<const char*>(b.bytes), b.len);
}

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

std::string_view exchange_type_name(ExchangeType t) {
  switch (t) {
    case ExchangeType::kDirect:
      return "direct";
    case ExchangeType::kTopic:
      return "topic";
    case ExchangeType::kFanout:
      return "fanout";
    case ExchangeType::kHeaders:
      return "headers";
  }
  return "direct";
}

void TableBuilder::add_string(std::string key, std::string value) {
  keys_.push_back(std::move(key));
  strings_.push_back(std::move(value));
  kinds_.push_back({Kind::kString, strings_.size() - 1, 0});
}

void TableBuilder::add_int(std::string key, std::int64_t value) {
  keys_.push_back(std::move(key));
  kinds_.push_back({Kind::kInt, 0, value});
}

amqp_table_t TableBuilder::table() {
  entries_.resize(keys_.size());
  for (std::size_t i = 0; i < keys_.size(); ++i) {
    entries_[i].key = bytes(keys_[i]);
    if (kinds_[i].kind == Kind::kString) {
      entries_[i].value.kind = AMQP_FIELD_KIND_UTF8;
      entries_[i].value.value.bytes = bytes(strings_[kinds_[i].string_index]);
    } else {
      entries_[i].value.kind = AMQP_FIELD_KIND_I64;
      entries_[i].value.value.i64 = kinds_[i].int_value;
    }
  }
  amqp_table_t t;
  t.num_entries = static_cast<int>(entries_.size());
  t.entries = entries_.empty() ? nullptr : entries_.data();
  return t;
}

Properties read_properties(const amqp_basic_properties_t* bp) {
  Properties p;
  if (bp == nullptr)
    return p;
  auto get = [bp](amqp_flags_t flag, const amqp_bytes_t& field, std::string& value) {
    if (bp->_flags & flag)
      value = str(field);
  };
  get(AMQP_BASIC_MESSAGE_ID_FLAG, bp->message_id, p.message_id);
  get(AMQP_BASIC_TYPE_FLAG, bp->type, p.type);
  get(AMQP_BASIC_CORRELATION_ID_FLAG, bp->correlation_id, p.correlation_id);
  get(AMQP_BASIC_REPLY_TO_FLAG, bp->reply_to, p.reply_to);
  get(AMQP_BASIC_APP_ID_FLAG, bp->app_id, p.app_id);
  get(AMQP_BASIC_EXPIRATION_FLAG, bp->expiration, p.expiration);
  if (bp->_flags & AMQP_BASIC_DELIVERY_MODE_FLAG)
    p.persistent = bp->delivery_mode == 2;
  if (bp->_flags & AMQP_BASIC_HEADERS_FLAG)
    read_headers(bp->headers, p);
  return p;
}

BasicProperties::BasicProperties(const Properties& p) {
  std::memset(&bp_, 0, sizeof bp_);
  static const std::string kJson = "application/json";
  bp_._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
  bp_.content_type = bytes(kJson);
  bp_.delivery_mode = p.persistent ? 2 : 1;
  auto set = [this](amqp_flags_t flag, amqp_bytes_t& field, const std::string& value) {
    if (value.empty())
      return;
    bp_._flags |= flag;
    field = bytes(value);
  };
  set(AMQP_BASIC_MESSAGE_ID_FLAG, bp_.message_id, p.message_id);
  set(AMQP_BASIC_TYPE_FLAG, bp_.type, p.type);
  set(AMQP_BASIC_CORRELATION_ID_FLAG, bp_.correlation_id, p.correlation_id);
  set(AMQP_BASIC_REPLY_TO_FLAG, bp_.reply_to, p.reply_to);
  set(AMQP_BASIC_APP_ID_FLAG, bp_.app_id, p.app_id);
  set(AMQP_BASIC_EXPIRATION_FLAG, bp_.expiration, p.expiration);
  for (const auto& [k, v] : p.int_headers)
    headers_.add_int(k, v);
  for (const auto& [k, v] : p.string_headers)
    headers_.add_string(k, v);
  if (!headers_.empty()) {
    bp_._flags |= AMQP_BASIC_HEADERS_FLAG;
    bp_.headers = headers_.table();
  }
}

std::optional<std::int64_t> Properties::int_header(const std::string& key) const {
  for (const auto& [k, v] : int_headers) {
    if (k == key)
      return v;
  }
  return std::nullopt;
}

}  // namespace wonderland::messaging::detail
