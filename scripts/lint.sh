#!/usr/bin/env bash
# The linters, each of which fails the run when it has something to say:
#   1. clang-format (.clang-format) on every C++ file of src/, tests/, fuzz/ and bench/
#   2. clang-tidy (.clang-tidy) on every translation unit of src/ (needs a built build dir;
#      units unchanged since they last passed are not checked again, see
#      scripts/lint/clang_tidy_cached.py)
#   3. ESLint and Prettier (scripts/lint/) on web/
#
#   scripts/lint.sh            # check
#   scripts/lint.sh --fix      # rewrite what clang-format and Prettier would change, then check
#   scripts/lint.sh --web      # only ESLint and Prettier on web/
#   scripts/lint.sh --no-tidy  # everything but clang-tidy (seconds instead of minutes on a cold
#                              # clang-tidy cache)
#
# Environment:
#   WONDERLAND_BUILD_DIR    the build directory clang-tidy reads (default build/; built if needed)
#   WONDERLAND_LINT_JOBS    clang-tidy processes in parallel (default 2)
#   WONDERLAND_TIDY_CACHE   where passing units are remembered (default ~/.cache/wonderland/clang-tidy)
set -euo pipefail

WL_PROG=lint.sh
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

fix=0
web_only=0
tidy=1
case "${1:-}" in
  --fix) fix=1 ;;
  --web) web_only=1 ;;
  --no-tidy) tidy=0 ;;
  "") ;;
  *) wl_die "usage: scripts/lint.sh [--fix|--web|--no-tidy]" ;;
esac

wl_deps
cd "$WL_REPO_DIR"
build_dir="$(wl_build_dir)"
lint_modules="$WL_REPO_DIR/scripts/lint/node_modules/.bin"
failed=()

lint_cxx() {
  mapfile -t cxx_files < <(git ls-files -- 'src/*.cpp' 'src/*.hpp' 'tests/*.cpp' 'tests/*.hpp' \
    'fuzz/*.cpp' 'fuzz/*.hpp' 'bench/*.cpp' 'bench/*.hpp')
  wl_section "clang-format: ${#cxx_files[@]} files"
  if ((fix)); then
    clang-format-14 -i "${cxx_files[@]}"
  fi
  if ! clang-format-14 --dry-run --Werror "${cxx_files[@]}"; then
    failed+=(clang-format)
    wl_info "clang-format: run scripts/lint.sh --fix to apply .clang-format"
  fi
}

lint_web() {
  wl_section "ESLint and Prettier: web/"
  if ((fix)); then
    "$lint_modules/prettier" --config scripts/lint/prettier.json --log-level warn --write \
      'web/**/*.{js,css,html}'
  fi
  "$lint_modules/eslint" -c scripts/lint/eslint.config.mjs --max-warnings 0 web || failed+=(eslint)
  if ! "$lint_modules/prettier" --config scripts/lint/prettier.json --log-level warn --check \
    'web/**/*.{js,css,html}'; then
    failed+=(prettier)
    wl_info "prettier: run scripts/lint.sh --fix to apply scripts/lint/prettier.json"
  fi
}

lint_tidy() {
  wl_section "clang-tidy: src/ (build dir $build_dir)"
  if [[ ! -f "$build_dir/compile_commands.json" ]]; then
    "$WL_REPO_DIR/scripts/build.sh" -DWONDERLAND_WERROR=ON
  else
    ninja -C "$build_dir" -j "${WONDERLAND_BUILD_JOBS:-2}" >/dev/null
  fi
  python3 scripts/lint/clang_tidy_cached.py "$build_dir" --jobs "${WONDERLAND_LINT_JOBS:-2}" ||
    failed+=(clang-tidy)
}

lint_web
if ((!web_only)); then
  lint_cxx
  if ((tidy)); then
    lint_tidy
  fi
fi

if ((${#failed[@]} > 0)); then
  wl_die "lint failed: ${failed[*]}"
fi
wl_info "lint: clean"
