#!/usr/bin/env bash
# Compares two settings of the whole system under the bookstore load benchmark, in alternated
# runs: A, B, A, B... each on a freshly started system (scripts/bench-bookstore.sh, without its
# wrk part). On a shared or virtual machine the same binaries read 20% apart from one run to the
# next, minutes apart, so a change is judged over pairs of runs taken side by side, never one run
# against another.
#
#   scripts/bench-compare.sh [--pairs N] [--a 'VAR=value ...'] --b 'VAR=value ...'
#                            [-- load_benchmark options]       (default: --customers 1,64 --seconds 10)
#   scripts/bench-compare.sh --report DIR    the summary of an earlier comparison's runs again
#
# A side is a list of environment assignments (space-separated, NAME=value, values without
# spaces) for that side's runs, passed to every process the
# run starts: a setting (WONDERLAND_HTTP_THREADS=1), or the binaries of another checkout
# (WONDERLAND_BUILD_DIR=/path/to/other/build WONDERLAND_RUN_SKIP_BUILD=1: run as they are, since
# scripts/run.sh would otherwise build that directory from this checkout). Side A defaults to no
# change.
#
# Prints, for every run and customer level, the confirmed orders per second, the p50, the whole
# system's CPU milliseconds per confirmed order and each process's share of it; then per level
# the medians of each side and in how many pairs B was the lower. The runs' full output stays in
# $WONDERLAND_BENCH_VAR_DIR-compare/ (default var/bench-compare/), where --report reads it.
#
# Environment: as scripts/bench-bookstore.sh (ports, WONDERLAND_BENCH_VAR_DIR, log level).
set -euo pipefail

WL_PROG=bench-compare.sh
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  awk 'NR > 1 && /^set -euo/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"
}

pairs=3
side_a=""
side_b=""
report_dir=""
while (($# > 0)); do
  case "$1" in
    --pairs | --a | --b | --report)
      [[ $# -ge 2 ]] || wl_die "$1 needs a value (see --help)"
      case "$1" in
        --pairs) pairs=$2 ;;
        --a) side_a=$2 ;;
        --b) side_b=$2 ;;
        --report) report_dir=$2 ;;
      esac
      shift 2
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    --)
      shift
      break
      ;;
    *) wl_die "unknown argument '$1' (see --help)" ;;
  esac
done
if ! wl_is_uint "$pairs" || ((pairs < 1)); then
  wl_die "--pairs needs a number of 1 or more"
fi
if [[ -n "$report_dir" ]]; then
  out_dir="$(wl_abspath "$report_dir")"
  [[ -f "$out_dir/A-1.log" && -f "$out_dir/B-1.log" ]] ||
    wl_die "$out_dir holds no comparison (A-1.log and B-1.log)"
  pairs=0
  while [[ -f "$out_dir/A-$((pairs + 1)).log" && -f "$out_dir/B-$((pairs + 1)).log" ]]; do
    pairs=$((pairs + 1))
  done
else
  [[ -n "$side_b" ]] || wl_die "--b is required: the setting to compare with (see --help)"
  load_args=("$@")
  ((${#load_args[@]} > 0)) || load_args=(--customers "1,64" --seconds 10)

  # Each side's assignments, checked before the first run (here, not in a subshell, so that a bad
  # one stops the script): NAME=value words only.
  read -r -a env_a <<<"$side_a"
  read -r -a env_b <<<"$side_b"
  ((${#env_b[@]} > 0)) || wl_die "--b has no assignments (see --help)"
  for word in "${env_a[@]}" "${env_b[@]}"; do
    [[ "$word" =~ ^[A-Za-z_][A-Za-z0-9_]*=.*$ ]] ||
      wl_die "'$word' is not an environment assignment (NAME=value)"
  done

  # Beside the benchmark's var dir, never in it: every run empties that one.
  bench_var_dir="${WONDERLAND_BENCH_VAR_DIR:-var/bench}"
  while [[ "$bench_var_dir" == */ && "$bench_var_dir" != / ]]; do bench_var_dir="${bench_var_dir%/}"; done
  out_dir="$(wl_abspath "$bench_var_dir")-compare"
  rm -rf "$out_dir"
  mkdir -p "$out_dir"

  # One run of one side: bench-bookstore.sh's output in $out_dir/<side>-<pair>.log.
  run_side() {
    local side=$1 pair=$2
    local -a env_side
    if [[ "$side" == A ]]; then env_side=("${env_a[@]}"); else env_side=("${env_b[@]}"); fi
    local log="$out_dir/$side-$pair.log"
    wl_info "pair $pair/$pairs, side $side (${env_side[*]:-no change}): $log"
    if ! env "${env_side[@]}" WONDERLAND_BENCH_WRK_SECONDS=0 \
      "$WL_REPO_DIR/scripts/bench-bookstore.sh" "${load_args[@]}" >"$log" 2>&1; then
      wl_tail "$log" 40
      wl_die "side $side of pair $pair failed"
    fi
  }

  for ((pair = 1; pair <= pairs; pair++)); do
    run_side A "$pair"
    run_side B "$pair"
  done
  printf 'side A: %s\nside B: %s\nload_benchmark %s\n' "${side_a:-no change}" "$side_b" \
    "${load_args[*]}" >"$out_dir/sides.txt"
fi

# load_benchmark's tables, one row per run and level: orders/s, p50, CPU ms per order, and each
# process's CPU ms per order (its share of a core x 10 / orders per second).
summarise() {
  local side pair
  for ((pair = 1; pair <= pairs; pair++)); do
    for side in A B; do
      awk -v side="$side" -v pair="$pair" '
        /^customers +confirmed/ { table = 1; next }
        table == 1 && /^[0-9]+ / { n++; level[n] = $1; rate[n] = $2; p50[n] = $4; next }
        table == 1 && NF == 0 { table = 0 }
        /^CPU share in the measured window/ { shares = 1; next }
        shares == 1 && /^process / { next }
        shares == 1 && /^system, all but/ { shares = 0; next }
        shares == 1 && NF > 1 {
          names[++np] = $1
          for (i = 1; i <= n; i++) { v = $(i + 1); sub(/%$/, "", v); share[np, i] = v }
          next
        }
        /^CPU ms per confirmed order/ { for (i = 1; i <= n; i++) total[i] = $(i + 5) }
        END {
          for (i = 1; i <= n; i++) {
            line = sprintf("%s %s %s %s %s %s", pair, side, level[i], rate[i], p50[i], total[i])
            for (p = 1; p <= np; p++) {
              if (names[p] == "load_benchmark") continue
              per = rate[i] > 0 ? share[p, i] * 10 / rate[i] : 0
              line = line sprintf(" %s=%.3f", names[p], per)
            }
            print line
          }
        }' "$out_dir/$side-$pair.log"
    done
  done
}
summarise >"$out_dir/rows.txt"

echo
if [[ -f "$out_dir/sides.txt" ]]; then cat "$out_dir/sides.txt"; fi
echo "$pairs pair(s), A then B in each"
echo
awk '
  BEGIN { printf "%-4s %-4s %9s %10s %9s %11s  then each process: CPU ms per order\n", "pair", "side", "customers", "orders/s", "p50 ms", "CPU ms/ord" }
  {
    row = sprintf("%-4s %-4s %9s %10s %9s %11s", $1, $2, $3, $4, $5, $6)
    for (i = 7; i <= NF; i++) { split($i, kv, "="); row = row sprintf(" %s %s", kv[1], kv[2]) }
    print row
  }' "$out_dir/rows.txt"

echo
echo "per level: median of each side, and the pairs in which B was lower"
awk '
  function median(list, count,    sorted, i, j, t) {
    for (i = 1; i <= count; i++) sorted[i] = list[i]
    for (i = 2; i <= count; i++)
      for (j = i; j > 1 && sorted[j - 1] > sorted[j]; j--) { t = sorted[j]; sorted[j] = sorted[j - 1]; sorted[j - 1] = t }
    return count % 2 ? sorted[(count + 1) / 2] : (sorted[count / 2] + sorted[count / 2 + 1]) / 2
  }
  {
    pair = $1; side = $2; level = $3
    if (!(level in seen)) { seen[level] = 1; levels[++nl] = level }
    value[level, "orders/s", side, pair] = $4
    value[level, "p50 ms", side, pair] = $5
    value[level, "CPU ms/order", side, pair] = $6
    for (i = 7; i <= NF; i++) {
      split($i, kv, "=")
      if (!(kv[1] in procs)) { procs[kv[1]] = 1; order[++np] = kv[1] }
      value[level, kv[1], side, pair] = kv[2]
    }
    if (pair > pairs) pairs = pair
  }
  END {
    names[1] = "orders/s"; names[2] = "p50 ms"; names[3] = "CPU ms/order"
    for (p = 1; p <= np; p++) names[p + 3] = order[p]
    for (l = 1; l <= nl; l++) {
      printf "\n%s customers\n", levels[l]
      printf "  %-28s %10s %10s %8s\n", "", "A median", "B median", "B lower"
      for (m = 1; m <= np + 3; m++) {
        name = names[m]; lower = 0
        for (k = 1; k <= pairs; k++) {
          a[k] = value[levels[l], name, "A", k]; b[k] = value[levels[l], name, "B", k]
          if (b[k] + 0 < a[k] + 0) lower++
        }
        printf "  %-28s %10.3f %10.3f %4d of %d\n", name, median(a, pairs), median(b, pairs), lower, pairs
      }
    }
  }' "$out_dir/rows.txt"
