// Runs a fuzz target's entry point on files, without libFuzzer: the seed corpus and the
// regression inputs of every target run this way as ordinary tests in every build.
//
//   fuzz_envelope_replay fuzz/corpus/envelope fuzz/regressions/envelope
//
// Each argument is a file or a folder (its regular files, in name order; names starting with
// '.' are skipped). A folder that does not exist is skipped with a note; a crash or a failed
// invariant aborts, which fails the test.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

int run_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", file.c_str());
    return 1;
  }
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::fprintf(stderr, "running %s (%zu bytes)\n", file.c_str(), bytes.size());
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int failures = 0;
  std::size_t inputs = 0;
  for (int i = 1; i < argc; ++i) {
    std::filesystem::path arg = argv[i];
    std::error_code ec;
    if (std::filesystem::is_directory(arg, ec)) {
      std::vector<std::filesystem::path> files;
      for (const auto& entry : std::filesystem::directory_iterator(arg)) {
        if (entry.is_regular_file() && !entry.path().filename().string().starts_with(".")) {
          files.push_back(entry.path());
        }
      }
      std::sort(files.begin(), files.end());
      for (const auto& f : files) {
        failures += run_file(f);
        ++inputs;
      }
    } else if (std::filesystem::is_regular_file(arg, ec)) {
      failures += run_file(arg);
      ++inputs;
    } else {
      std::fprintf(stderr, "no inputs at %s (skipped)\n", arg.c_str());
    }
  }
  std::fprintf(stderr, "%zu input(s) ran\n", inputs);
  if (inputs == 0) {
    std::fprintf(stderr, "no inputs: give a corpus folder\n");
    return 1;
  }
  return failures == 0 ? 0 : 1;
}
