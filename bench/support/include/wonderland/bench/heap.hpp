// What the allocator holds, for the memory figures of the benchmarks. The benchmarks run with the
// allocator the services run with (jemalloc, or glibc's malloc when built without it), so these
// ask whichever one the process has.
#pragma once

#include <cstddef>
#include <string>

namespace wonderland::bench {

/// "jemalloc" or "glibc malloc": the allocator this process runs on.
const char* allocator_name();

/// Hands the allocator's free pages back to the system (and this thread's cached blocks back to
/// the allocator), so that the resident size counts what is in use.
void release_free_memory();

/// Bytes handed out by the allocator and not yet freed.
std::size_t heap_in_use();

/// VmRSS of a process ("self": this one), in KiB; 0 when unreadable.
long rss_kib(const std::string& pid = "self");

}  // namespace wonderland::bench
