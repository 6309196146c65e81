// Browser tests of the storefront and the operations console: starts the whole system (every
// service binary, the logging service included, and the mediator serving web/), then runs
// bookstore.test.mjs under node, which drives Debian's Chromium through playwright-core. The
// test passes when node exits 0. Screenshots of every page land in
// <build>/tests/browser/screenshots/; the run's folder (databases, logs) is kept when it fails,
// or always with WONDERLAND_BROWSER_KEEP=1.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "wonderland/testing/process.hpp"
#include "wonderland/testing/system.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using wonderland::testing::CatalogueBook;
using wonderland::testing::source_dir;
using wonderland::testing::System;

constexpr char kAdminToken[] = "browser-operator-token-5e2a90c1";
constexpr auto kNodeTimeout = 240s;

fs::path browser_dir() {
  return fs::path(source_dir()) / "tests" / "browser";
}

/// The seed the suite expects (tests/browser/catalogue.json, read by the suite too).
std::vector<CatalogueBook> test_catalogue() {
  std::ifstream in(browser_dir() / "catalogue.json");
  nlohmann::json doc = nlohmann::json::parse(in);
  std::vector<CatalogueBook> books;
  for (const auto& b : doc.at("books")) {
    books.push_back(CatalogueBook{.isbn = b.at("isbn").get<std::string>(),
                                  .title = b.at("title").get<std::string>(),
                                  .price_cents = b.at("price_cents").get<std::int64_t>(),
                                  .stock = b.at("stock").get<std::int64_t>(),
                                  .author = b.value("author", "Test Author"),
                                  .publisher = b.value("publisher", "Test Press")});
  }
  return books;
}

/// Runs `argv` (looked up on PATH) with `extra` added to the environment, its output going to
/// ours, in a process group of its own; returns its exit status (-signal when killed by one).
/// After `timeout` the whole group (node and its browser) is killed.
int run(const std::vector<std::string>& argv, const std::map<std::string, std::string>& extra,
        std::chrono::seconds timeout) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    if (extra.count(entry.substr(0, entry.find('='))) == 0)
      env_strings.push_back(std::move(entry));
  }
  for (const auto& [key, value] : extra)
    env_strings.push_back(key + "=" + value);
  std::vector<char*> envp;
  for (auto& s : env_strings)
    envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argvp;
  for (auto& a : args)
    argvp.push_back(a.data());
  argvp.push_back(nullptr);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = -1;
  std::cout.flush();
  int rc = posix_spawnp(&pid, argvp[0], nullptr, &attr, argvp.data(), envp.data());
  posix_spawnattr_destroy(&attr);
  if (rc != 0)
    throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));

  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  for (;;) {
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid)
      break;
    if (std::chrono::steady_clock::now() > deadline) {
      std::cerr << argv[0] << " ran longer than " << timeout.count() << " s: killed\n";
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  ::kill(-pid, SIGKILL);  // a browser the suite left behind
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

std::string chromium_path() {
  const char* configured = std::getenv("CHROMIUM");
  return configured != nullptr && *configured != '\0' ? configured : "/usr/bin/chromium";
}

TEST(BrowserTest, StorefrontAndConsoleInChromium) {
  // What the suite needs besides the system: the browser and playwright-core.
  ASSERT_TRUE(fs::exists(chromium_path())) << chromium_path() << " is missing: run scripts/deps.sh";
  ASSERT_TRUE(fs::exists(browser_dir() / "node_modules" / "playwright-core" / "package.json"))
      << "playwright-core is not installed in " << browser_dir()
      << ": run scripts/deps.sh (npm ci there)";

  const fs::path work_dir = WONDERLAND_BROWSER_WORK_DIR;
  const fs::path screenshots = work_dir / "screenshots";
  fs::remove_all(screenshots);
  fs::create_directories(screenshots);

  // The bookstore's definitions and the console test's own (tests/browser/workflows).
  const fs::path workflows = work_dir / "workflows";
  fs::remove_all(workflows);
  fs::create_directories(workflows);
  for (const fs::path& from : {fs::path(source_dir()) / "workflows", browser_dir() / "workflows"}) {
    for (const auto& entry : fs::directory_iterator(from))
      fs::copy_file(entry.path(), workflows / entry.path().filename());
  }

  System system({.work_dir = work_dir,
                 .catalogue = test_catalogue(),
                 .admin_token = kAdminToken,
                 .web_dir = fs::path(source_dir()) / "web",
                 .tag = "browser",
                 .env = {{"mediator", {{"WONDERLAND_WORKFLOWS_DIR", workflows.string()}}}}});
  auto started = std::chrono::steady_clock::now();
  try {
    system.start();
  } catch (const std::exception& e) {
    FAIL() << "the system did not start: " << e.what() << "\n" << system.diagnostics();
  }
  std::cout << "[ browser  ] system up in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - started)
                   .count()
            << " ms at " << system.base_url() << std::endl;

  int status =
      run({"node", "--test-reporter=spec", (browser_dir() / "bookstore.test.mjs").string()},
          {{"BASE_URL", system.base_url()},
           {"ADMIN_TOKEN", kAdminToken},
           {"SCREENSHOT_DIR", screenshots.string()},
           {"CHROMIUM", chromium_path()}},
          kNodeTimeout);
  EXPECT_EQ(status, 0) << "the browser suite failed (its report is above); screenshots in "
                       << screenshots << "\n"
                       << system.diagnostics();
  std::cout << "[ browser  ] screenshots in " << screenshots << std::endl;

  system.stop();
  const char* keep = std::getenv("WONDERLAND_BROWSER_KEEP");
  if (status == 0 && (keep == nullptr || std::string(keep) != "1")) {
    system.remove_files();
  } else {
    std::cerr << "kept " << system.dir() << " for inspection\n";
  }
}

}  // namespace
