#include "wonderland/log_store/csv.hpp"

#include <cstring>

#include "wonderland/common/json_limits.hpp"

namespace wonderland::log_store::csv {

void append_field(std::string& out, std::string_view field) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    out.append(field);
    return;
  }
  out += '"';
  std::size_t start = 0;
  for (;;) {
    std::size_t q = field.find('"', start);
    if (q == std::string_view::npos) {
      out.append(field.substr(start));
      break;
    }
    out.append(field.substr(start, q + 1 - start));
    out += '"';  // double the quote
    start = q + 1;
  }
  out += '"';
}

std::string fields_json(const nlohmann::json& fields) {
  if (fields.is_object())
    return dump_compact(fields);
  if (fields.is_null())
    return "{}";
  return dump_compact(nlohmann::json{{"value", fields}});
}

void append_row(std::string& out, const Record& r) {
  append_row(out, r, fields_json(r.fields));
}

void append_row(std::string& out, const Record& r, std::string_view fields_json) {
  out.append(format_iso8601(r.time));
  out += ',';
  append_field(out, r.service);
  out += ',';
  out.append(to_string(r.severity));
  out += ',';
  append_field(out, r.correlation_id);
  out += ',';
  append_field(out, r.message);
  out += ',';
  append_field(out, fields_json);
  out.append(kLineEnd);
}

std::string format_row(const Record& record) {
  std::string out;
  out.reserve(128 + record.message.size());
  append_row(out, record);
  return out;
}

void Parser::end_field() {
  ++fields_;
  if (fields_ == row_.size()) {
    row_.emplace_back();
  } else {
    row_[fields_].clear();
  }
}

void Parser::end_row(const RowFn& on_row) {
  if (row_started_) {
    end_field();
    row_.resize(fields_);
    on_row(row_);
  }
  row_started_ = false;
  fields_ = 0;
  if (row_.empty())
    row_.emplace_back();
  row_[0].clear();
}

bool Parser::end_at(char c, const RowFn& on_row) {
  switch (c) {
    case ',':
      row_started_ = true;
      end_field();
      state_ = State::kFieldStart;
      return true;
    case '\r':
      end_row(on_row);
      state_ = State::kAfterCr;
      return true;
    case '\n':
      end_row(on_row);
      state_ = State::kFieldStart;
      return true;
    default:
      return false;
  }
}

const char* Parser::at_field_start(const char* p, const RowFn& on_row) {
  char c = *p++;
  if (c == '"') {
    row_started_ = true;
    state_ = State::kQuoted;
  } else if (!end_at(c, on_row)) {
    row_started_ = true;
    row_[fields_] += c;
    state_ = State::kUnquoted;
  }
  return p;
}

const char* Parser::in_unquoted(const char* p, const char* end, const RowFn& on_row) {
  // Copy the run of ordinary characters at once.
  const char* q = p;
  while (q < end && *q != ',' && *q != '\r' && *q != '\n')
    ++q;
  row_[fields_].append(p, q);
  if (q == end)
    return q;
  end_at(*q, on_row);
  return q + 1;
}

const char* Parser::in_quoted(const char* p, const char* end) {
  const void* q = std::memchr(p, '"', static_cast<std::size_t>(end - p));
  if (q == nullptr) {
    row_[fields_].append(p, end);
    return end;
  }
  const char* qc = static_cast<const char*>(q);
  row_[fields_].append(p, qc);
  state_ = State::kQuoteInQuoted;
  return qc + 1;
}

const char* Parser::after_quote(const char* p, const RowFn& on_row) {
  char c = *p++;
  if (c == '"') {
    row_[fields_] += '"';
    state_ = State::kQuoted;
  } else if (!end_at(c, on_row)) {
    row_[fields_] += c;  // lenient: text after the closing quote joins the field
    state_ = State::kUnquoted;
  }
  return p;
}

void Parser::feed(std::string_view bytes, const RowFn& on_row) {
  if (row_.empty())
    row_.emplace_back();
  const char* p = bytes.data();
  const char* end = p + bytes.size();
  while (p < end) {
    switch (state_) {
      case State::kAfterCr:
        state_ = State::kFieldStart;
        if (*p == '\n') {
          ++p;
          break;
        }
        p = at_field_start(p, on_row);
        break;
      case State::kFieldStart:
        p = at_field_start(p, on_row);
        break;
      case State::kUnquoted:
        p = in_unquoted(p, end, on_row);
        break;
      case State::kQuoted:
        p = in_quoted(p, end);
        break;
      case State::kQuoteInQuoted:
        p = after_quote(p, on_row);
        break;
    }
  }
}

bool Parser::finish(const RowFn& on_row) {
  bool discarded = false;
  if (state_ == State::kQuoted) {
    discarded = true;  // cut off inside a quoted field
    row_started_ = false;
    fields_ = 0;
    row_.assign(1, std::string());
  } else {
    end_row(on_row);
  }
  state_ = State::kFieldStart;
  return discarded;
}

std::vector<Parser::Row> parse(std::string_view text) {
  std::vector<Parser::Row> rows;
  Parser parser;
  auto collect = [&rows](const Parser::Row& row) { rows.push_back(row); };
  parser.feed(text, collect);
  parser.finish(collect);
  return rows;
}

nlohmann::json parse_fields(std::string_view text) {
  if (text.empty())
    return nlohmann::json::object();
  // Bounded like a message between services (the fields came in one); a column over the
  // limits is kept as text, as any other column that is not a JSON object.
  auto parsed = parse_json_bounded(text, JsonLimits::message());
  if (!parsed || !parsed->is_object())
    return nlohmann::json{{"value", std::string(text)}};
  return std::move(*parsed);
}

std::optional<Record> record_from_row(const Parser::Row& row, bool with_fields) {
  if (row.size() != kColumns)
    return std::nullopt;
  auto time = parse_timestamp(row[0]);
  if (!time)
    return std::nullopt;
  auto severity = parse_severity(row[2]);
  if (!severity)
    return std::nullopt;
  Record r;
  r.time = *time;
  r.service = row[1];
  r.severity = *severity;
  r.correlation_id = row[3];
  r.message = row[4];
  if (with_fields)
    r.fields = parse_fields(row[5]);
  return r;
}

}  // namespace wonderland::log_store::csv
