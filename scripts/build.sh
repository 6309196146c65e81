#!/usr/bin/env bash
# Configures (CMake + Ninja) and builds the project.
#
#   scripts/build.sh [extra cmake arguments...]
#   scripts/build.sh -DWONDERLAND_WERROR=ON -DWONDERLAND_SANITIZE=ON
#
# Environment:
#   WONDERLAND_BUILD_DIR   build directory, relative to the repository (default: build)
#   WONDERLAND_BUILD_JOBS  parallel compile jobs (default: 2)
#
# The configure step runs when the build directory is new or when arguments are given; otherwise
# Ninja re-runs CMake by itself whenever a CMakeLists.txt changes. Options given once stay in
# the CMake cache of that build directory.
set -euo pipefail

WL_PROG=build.sh
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

wl_deps

build_dir="$(wl_build_dir)"
jobs="${WONDERLAND_BUILD_JOBS:-2}"
if ! wl_is_uint "$jobs" || ((jobs == 0)); then
  wl_die "WONDERLAND_BUILD_JOBS='$jobs' is not a positive number"
fi

cache="$build_dir/CMakeCache.txt"
if [[ -f "$cache" ]] && ! grep -qx 'CMAKE_GENERATOR:INTERNAL=Ninja' "$cache"; then
  wl_die "$build_dir was configured with another generator than Ninja; delete it and run again"
fi

if [[ ! -f "$cache" || $# -gt 0 ]]; then
  wl_info "configuring $build_dir${*:+ with $*}"
  cmake -S "$WL_REPO_DIR" -B "$build_dir" -G Ninja "$@"
fi

wl_info "building $build_dir with $jobs jobs"
cmake --build "$build_dir" -j "$jobs"
