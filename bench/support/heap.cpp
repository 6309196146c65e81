#include "wonderland/bench/heap.hpp"

#include <dlfcn.h>
#include <malloc.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>

namespace wonderland::bench {
namespace {

using Mallctl = int (*)(const char*, void*, std::size_t*, void*, std::size_t);

// jemalloc's control interface, when jemalloc is the process's allocator.
Mallctl jemalloc_ctl() {
  static const Mallctl ctl = reinterpret_cast<Mallctl>(::dlsym(RTLD_DEFAULT, "mallctl"));
  return ctl;
}

}  // namespace

const char* allocator_name() {
  return jemalloc_ctl() ? "jemalloc" : "glibc malloc";
}

void release_free_memory() {
  if (Mallctl ctl = jemalloc_ctl()) {
    ctl("thread.tcache.flush", nullptr, nullptr, nullptr, 0);
    ctl("arena.4096.purge", nullptr, nullptr, nullptr, 0);  // 4096: MALLCTL_ARENAS_ALL
    return;
  }
  ::malloc_trim(0);
}

std::size_t heap_in_use() {
  if (Mallctl ctl = jemalloc_ctl()) {
    std::uint64_t epoch = 1;  // statistics are a snapshot, taken when the epoch advances
    std::size_t size = sizeof epoch;
    ctl("epoch", &epoch, &size, &epoch, size);
    std::size_t allocated = 0;
    size = sizeof allocated;
    if (ctl("stats.allocated", &allocated, &size, nullptr, 0) == 0)
      return allocated;
    return 0;
  }
  return ::mallinfo2().uordblks;
}

long rss_kib(const std::string& pid) {
  std::ifstream status("/proc/" + pid + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0)
      return std::atol(line.c_str() + 6);
  }
  return 0;
}

}  // namespace wonderland::bench
