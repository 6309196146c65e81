#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang 14 (ASan + UBSan) and runs each for a
# bounded time.
#
#   scripts/fuzz.sh [seconds]       # seconds per target (default: WONDERLAND_FUZZ_SECONDS or 30)
#
# Environment:
#   WONDERLAND_FUZZ_SECONDS    seconds per target (default 30)
#   WONDERLAND_FUZZ_BUILD_DIR  build directory (default build-fuzz)
#   WONDERLAND_FUZZ_TARGETS    targets to run (default: all of fuzz/CMakeLists.txt)
#   WONDERLAND_BUILD_JOBS      parallel compile jobs (default 2)
#   WONDERLAND_FUZZ_SEED       libFuzzer's -seed (default: random); CI fixes it so that a run
#                              can be repeated exactly, longer local runs explore new paths
#
# Each target first runs every input of fuzz/regressions/<target>/, then fuzzes starting from
# fuzz/corpus/<target>/; new inputs go to <build dir>/corpus/<target>/, never into the
# repository. Per target it prints the executions, executions per second and coverage. It
# fails when a target crashes, leaks, hangs or breaks an invariant, printing the input that did
# it: fix the code, then copy that input into fuzz/regressions/<target>/ so that it is replayed
# by the `fuzz_<target>_replay` test in every build.
set -euo pipefail

WL_PROG=fuzz.sh
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

seconds="${1:-${WONDERLAND_FUZZ_SECONDS:-30}}"
wl_is_uint "$seconds" && ((seconds > 0)) || wl_die "seconds per target must be a positive number, got '$seconds'"
jobs="${WONDERLAND_BUILD_JOBS:-2}"
build_dir="$(wl_abspath "${WONDERLAND_FUZZ_BUILD_DIR:-build-fuzz}")"
fuzz_dir="$WL_REPO_DIR/fuzz"
targets="${WONDERLAND_FUZZ_TARGETS:-$(sed -n 's/^set(WONDERLAND_FUZZ_TARGETS \(.*\))$/\1/p' "$fuzz_dir/CMakeLists.txt")}"
[[ -n "$targets" ]] || wl_die "no fuzz targets found in fuzz/CMakeLists.txt"

wl_deps
command -v clang++-14 >/dev/null || wl_die "clang++-14 is missing (scripts/deps.sh installs it)"

if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  wl_info "configuring $build_dir (clang 14, libFuzzer, ASan + UBSan)"
  CC=clang-14 CXX=clang++-14 cmake -S "$WL_REPO_DIR" -B "$build_dir" -G Ninja \
    -DWONDERLAND_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
wl_info "building the fuzz targets in $build_dir with $jobs jobs"
build_started=$SECONDS
cmake --build "$build_dir" -j "$jobs" --target wonderland_fuzzers
wl_info "built in $((SECONDS - build_started)) s"

fuzz_stat() {  # fuzz_stat <log> <name>: a libFuzzer final statistic
  sed -n "s/^stat::$2: *\([0-9]*\).*/\1/p" "$1" | tail -n 1
}
cov() {  # cov <log> <INITED|DONE>: the edge coverage at that point
  sed -n "s/^#[0-9]*[[:space:]]*$2[[:space:]]*cov: \([0-9]*\).*/\1/p" "$1" | tail -n 1
}

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
failed=()
report=()
for t in $targets; do
  bin="$build_dir/fuzz/fuzz_$t"
  [[ -x "$bin" ]] || wl_die "$bin was not built"
  work="$build_dir/corpus/$t"
  artifacts="$build_dir/artifacts/$t"
  log="$build_dir/fuzz-$t.log"
  mkdir -p "$work" "$artifacts"
  regressions=()
  if [[ -d "$fuzz_dir/regressions/$t" ]]; then
    mapfile -t regressions < <(find "$fuzz_dir/regressions/$t" -type f ! -name '.*' | sort)
  fi
  wl_section "fuzz_$t: ${#regressions[@]} regression input(s), then $seconds s from fuzz/corpus/$t"
  status=0
  if ((${#regressions[@]} > 0)); then
    "$bin" -rss_limit_mb=4096 -timeout=30 "${regressions[@]}" >"$log" 2>&1 || status=$?
  fi
  if ((status == 0)); then
    "$bin" -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
      -seed="${WONDERLAND_FUZZ_SEED:-0}" -print_final_stats=1 -artifact_prefix="$artifacts/" \
      "$work" "$fuzz_dir/corpus/$t" >>"$log" 2>&1 || status=$?
  fi
  if ((status != 0)); then
    failed+=("$t")
    wl_tail "$log" 60
    crash="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)"
    [[ -n "$crash" ]] || crash="$(grep -o "Running: .*" "$log" | tail -n 1 | sed 's/^Running: //')"
    wl_error "fuzz_$t failed (exit $status); the input: ${crash:-see $log}"
    report+=("$(printf '%-22s %s' "$t" "FAILED: ${crash:-see $log}")")
    continue
  fi
  runs="$(fuzz_stat "$log" number_of_executed_units)"
  per_s="$(fuzz_stat "$log" average_exec_per_sec)"
  added="$(fuzz_stat "$log" new_units_added)"
  report+=("$(printf '%-22s %12s %10s %8s %6s -> %-6s %s' "$t" "${runs:-?}" "${per_s:-?}" \
    "${added:-?}" "$(cov "$log" INITED)" "$(cov "$log" DONE)" "$(fuzz_stat "$log" peak_rss_mb) MB")")
done

wl_section "fuzzing summary ($seconds s per target)"
printf '%-22s %12s %10s %8s %16s %s\n' target executions exec/s "new" "coverage (edges)" "peak RSS"
printf '%s\n' "${report[@]}"
if ((${#failed[@]} > 0)); then
  wl_die "failed: ${failed[*]} (logs: $build_dir/fuzz-<target>.log)"
fi
