// The files are standard CSV: Python's csv module reads back exactly what the store wrote.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "wonderland/log_store/csv.hpp"
#include "wonderland/log_store/store.hpp"
#include "wonderland/testing/temp_dir.hpp"

namespace wonderland::log_store {
namespace {

// Reads the CSV file named by argv[1] with the csv module and prints it as JSON: a list of rows,
// each a list of strings. newline='' lets the csv module handle line breaks inside fields.
constexpr const char* kReader = R"PY(
import csv, json, sys
with open(sys.argv[1], newline='', encoding='utf-8') as f:
    rows = list(csv.reader(f, strict=True))
json.dump(rows, sys.stdout, ensure_ascii=True)
)PY";

std::string run(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr)
    return out;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
    out.append(buf, n);
  int status = ::pclose(p);
  EXPECT_EQ(status, 0) << command;
  return out;
}

TEST(PythonCsv, ReadsBackEveryRecordExactly) {
  wonderland::testing::TempDir dir;
  StoreOptions o;
  o.writer.dir = dir.path();
  std::vector<Record> written;
  {
    LogStore store(o);
    const std::vector<std::string> messages = {
        "plain message",
        "commas, inside, the message",
        "a \"quoted\" word and a lone \" quote",
        "two\r\nlines with CRLF",
        "LF\nonly and CR\ronly",
        "Müller — 東京",
        "",
        "trailing comma,",
        "  spaces  ",
    };
    for (std::size_t i = 0; i < messages.size(); ++i) {
      Record r;
      r.time =
          SystemTime(std::chrono::milliseconds(1'764'149'172'345LL + static_cast<long long>(i)));
      r.service = i % 2 == 0 ? "orders" : "inventory, east";
      r.severity = static_cast<Severity>(i % 4);
      r.correlation_id =
          i % 3 == 0 ? "" : "4b1f6c1e-7d0a-4c57-9b7e-0d3c2a1b9f0" + std::to_string(i);
      r.message = messages[i];
      r.fields = {
          {"i", i}, {"who", "Zoë \"Z\", Ålesund"}, {"nested", {{"list", {1, "two", nullptr}}}}};
      written.push_back(r);
      store.append(r);
    }
  }
  std::string script_path = (dir.path() / "read.py").string();
  std::ofstream(script_path) << kReader;
  std::string output =
      run("python3 " + script_path + " " + (dir.path() / "wonderland.csv").string());
  auto rows = nlohmann::json::parse(output);
  ASSERT_TRUE(rows.is_array());
  ASSERT_EQ(rows.size(), written.size() + 1);
  EXPECT_EQ(rows[0], (nlohmann::json{"timestamp", "service", "severity", "correlation_id",
                                     "message", "fields"}));
  for (std::size_t i = 0; i < written.size(); ++i) {
    const auto& row = rows[i + 1];
    const Record& r = written[i];
    ASSERT_EQ(row.size(), 6U) << "row " << i;
    EXPECT_EQ(row[0], format_iso8601(r.time));
    EXPECT_EQ(row[1], r.service);
    EXPECT_EQ(row[2], std::string(to_string(r.severity)));
    EXPECT_EQ(row[3], r.correlation_id);
    EXPECT_EQ(row[4], r.message) << "row " << i;
    EXPECT_EQ(nlohmann::json::parse(row[5].get<std::string>()), r.fields);
  }
}

}  // namespace
}  // namespace wonderland::log_store
