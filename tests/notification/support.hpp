// Helpers shared by the notification tests: temporary folders, running the Python helpers and
// pdftotext, reading files, refused events and attached PDFs.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "wonderland/common/ids.hpp"
#include "wonderland/messaging/envelope.hpp"
#include "wonderland/notification/events.hpp"
#include "wonderland/testing/temp_dir.hpp"

namespace wonderland::notification::test {

using wonderland::testing::TempDir;

/// The interpreter that has python3-aiosmtpd: WONDERLAND_TEST_PYTHON, else Debian's python3.
inline std::string python() {
  const char* p = std::getenv("WONDERLAND_TEST_PYTHON");
  return (p != nullptr && *p != '\0') ? std::string(p)
                                      : std::string(WONDERLAND_TEST_PYTHON_DEFAULT);
}

inline std::string script(const std::string& name) {
  return std::string(WONDERLAND_NOTIFICATION_TEST_DIR) + "/" + name;
}

inline std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}

struct RunResult {
  int status = -1;
  std::string out;
};

/// Runs a shell command and captures its standard output.
inline RunResult run(const std::string& command) {
  RunResult r;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr)
    return r;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0)
    r.out.append(buf, n);
  r.status = ::pclose(pipe);
  return r;
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// The text of a PDF as `pdftotext` (poppler-utils) extracts it, UTF-8.
inline std::string pdf_text(const std::filesystem::path& pdf) {
  RunResult r = run("pdftotext -enc UTF-8 " + quote(pdf.string()) + " - 2>&1");
  EXPECT_EQ(r.status, 0) << r.out;
  return r.out;
}

/// The summary eml_summary.py prints of a message parsed by Python's `email` package; with
/// `attachments`, the attachments are saved there too.
inline nlohmann::json summarize_eml(const std::filesystem::path& eml,
                                    const std::filesystem::path& attachments = {}) {
  std::string command =
      python() + " " + quote(script("eml_summary.py")) + " " + quote(eml.string());
  if (!attachments.empty())
    command += " " + quote(attachments.string());
  RunResult r = run(command);
  EXPECT_EQ(r.status, 0) << r.out;
  try {
    return nlohmann::json::parse(r.out);
  } catch (const std::exception&) {
    ADD_FAILURE() << "eml_summary.py printed no JSON: " << r.out;
    return nlohmann::json::object();
  }
}

/// Expects parse_event to refuse `e` with a message naming the event and holding `fragment`.
inline void expect_invalid(const messaging::Envelope& e, const std::string& fragment) {
  try {
    parse_event(e);
    ADD_FAILURE() << "accepted: " << e.serialize();
  } catch (const InvalidEvent& x) {
    EXPECT_NE(std::string(x.what()).find(fragment), std::string::npos) << x.what();
    EXPECT_NE(std::string(x.what()).find(e.message_id), std::string::npos) << x.what();
  }
}

/// Expects `content` to attach a PDF named `filename`.
inline void expect_pdf_attachment(const Content& content, const std::string& filename) {
  ASSERT_TRUE(content.attachment);
  EXPECT_EQ(content.attachment->filename, filename);
  EXPECT_EQ(content.attachment->content_type, "application/pdf");
  EXPECT_EQ(content.attachment->data.rfind("%PDF-", 0), 0u);
}

}  // namespace wonderland::notification::test
