# shellcheck shell=bash
# Shared helpers for the scripts in this folder. Source it; do not run it.
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Absolute path of the repository (the parent of scripts/).
WL_REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
export WL_REPO_DIR

# ccache (used by CMake when installed): objects are shared between build directories and clones,
# whatever the folder they were compiled in. The cache lives outside the clone (~/.cache/ccache),
# so a fresh CI clone on the same machine starts warm.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$WL_REPO_DIR}"
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"
export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-8G}"

# Name printed in front of messages; scripts set it to their own name.
WL_PROG="${WL_PROG:-$(basename "$0")}"

wl_info() { printf '%s: %s\n' "$WL_PROG" "$*" >&2; }
wl_warn() { printf '%s: warning: %s\n' "$WL_PROG" "$*" >&2; }
wl_error() { printf '%s: error: %s\n' "$WL_PROG" "$*" >&2; }
wl_die() {
  wl_error "$*"
  exit 1
}

# wl_section TITLE: a visible header for long-running steps (CI logs, test runs).
wl_section() {
  printf '\n==== %s ====\n' "$*" >&2
}

# wl_abspath PATH: PATH made absolute against the repository (relative paths are
# relative to the repository, not to the caller's working directory).
wl_abspath() {
  case "$1" in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s\n' "$WL_REPO_DIR/$1" ;;
  esac
}

# wl_is_uint VALUE: true when VALUE is a non-negative decimal integer.
wl_is_uint() {
  [[ "$1" =~ ^[0-9]+$ ]]
}

# wl_require_port NAME VALUE: fail unless VALUE is a TCP port number.
wl_require_port() {
  if ! wl_is_uint "$2" || (($2 < 1 || $2 > 65535)); then
    wl_die "$1='$2' is not a TCP port number"
  fi
}

# wl_port_listeners PORT: the listening TCP sockets on PORT, with their processes where `ss` may
# show them (empty when the port is free).
wl_port_listeners() {
  ss -Hltnp "sport = :$1" 2>/dev/null || true
}

# wl_require_free_port NAME PORT WHAT: returns 1, naming the listener, when something already
# listens on PORT (the WHAT port of NAME).
wl_require_free_port() {
  local who
  who="$(wl_port_listeners "$2")"
  if [[ -n "$who" ]]; then
    wl_error "$1: cannot start: port $2 ($3) is already in use by another process:"
    printf '  | %s\n' "$who" >&2
    wl_error "$1: stop that process (a system service? another checkout?) or choose other ports"
    return 1
  fi
}

# wl_tail FILE [LINES]: the last lines of a log file, indented, with a header.
wl_tail() {
  local file="$1" lines="${2:-40}"
  if [[ -s "$file" ]]; then
    printf -- '---- last %s lines of %s ----\n' "$lines" "$file" >&2
    tail -n "$lines" "$file" | sed 's/^/  | /' >&2
    printf -- '---- end of %s ----\n' "$file" >&2
  else
    printf -- '---- %s: missing or empty ----\n' "$file" >&2
  fi
}

# wl_build_dir: the CMake build directory (WONDERLAND_BUILD_DIR, default build/).
wl_build_dir() {
  wl_abspath "${WONDERLAND_BUILD_DIR:-build}"
}

# wl_deps: installs the system packages (fast no-op when everything is present).
wl_deps() {
  "$WL_REPO_DIR/scripts/deps.sh"
}
