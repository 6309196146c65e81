#!/usr/bin/env bash
# Shell-level test of scripts/bench-compare.sh without a system: its refusals (nothing runs, no
# directory is made) and its summary of a comparison's runs (--report), on two pairs of
# load_benchmark outputs written here with figures whose medians are known.
#
#   tests/scripts/bench_compare_test.sh [path/to/bench-compare.sh]
set -uo pipefail

COMPARE="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/bench-compare.sh}"
DIR="$(mktemp -d)"
trap 'rm -rf "$DIR"' EXIT

passed=0
failed=0
check() {
  local what=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
    printf 'ok   %s\n' "$what"
  else
    failed=$((failed + 1))
    printf 'FAIL %s\n' "$what"
  fi
}

# Refusals: a bad side stops the script before any run, and leaves no comparison directory.
export WONDERLAND_BENCH_VAR_DIR="$DIR/bench"
refused() {
  local out
  out="$("$COMPARE" "$@" 2>&1)" && return 1
  [[ "$out" == *error* && ! -e "$DIR/bench-compare" ]]
}
check "no --b is refused" refused --pairs 1
check "a word that is no assignment is refused" refused --b 'WONDERLAND_HTTP_THREADS=1 oops'
check "a bad word on side A is refused" refused --a '1X=2' --b 'Y=1'
check "an empty --b is refused" refused --b ' '
check "--pairs 0 is refused" refused --pairs 0 --b 'Y=1'
check "--report of a directory without runs is refused" refused --report "$DIR"

# One run as load_benchmark prints it: levels 1 and 64, two processes and the clients.
# run RATE64 P50_64 SHARE_MED SHARE_PG TOTAL64
run() {
  cat <<OUT
customers   confirmed/s    failed    p50 ms    p99 ms   mean ms  errors
1                  50.0         0     10.00     20.00     10.00       0
64                 $1         0    $2    300.00    200.00       0

CPU share in the measured window (% of one core; the machine has 2):
process                              1        64
load_benchmark (clients)          3.0%      7.0%
postgresql                       10.0%     $4%
wonderland-medi                  20.0%     $3%
system, all but the clients      30.0%    100.0%
CPU ms per confirmed order        6.00      $5
OUT
}
runs="$DIR/runs"
mkdir -p "$runs"
# Per order at 64: the mediator's share x 10 / orders per second.
run 200.0 150.00 40.0 20.0 5.00 >"$runs/A-1.log" # mediator 2.000, postgresql 1.000
run 200.0 160.00 30.0 20.0 4.00 >"$runs/B-1.log" # mediator 1.500: B lower
run 100.0 170.00 30.0 10.0 9.00 >"$runs/A-2.log" # mediator 3.000
run 100.0 140.00 40.0 12.0 8.00 >"$runs/B-2.log" # mediator 4.000: B higher
printf 'side A: no change\nside B: X=1\nload_benchmark --customers 1,64\n' >"$runs/sides.txt"

report="$("$COMPARE" --report "$runs" 2>&1)"
status=$?
check "--report succeeds" test "$status" -eq 0
check "--report names the sides" grep -q '^side B: X=1$' <<<"$report"
check "--report counts two pairs" grep -q '^2 pair(s)' <<<"$report"
check "a run's row: orders/s, p50, CPU per order, each process per order" \
  grep -Eq '^1 +B +64 +200.0 +160.00 +4.00 postgresql 1.000 wonderland-medi 1.500$' <<<"$report"
clients_left_out() { ! grep -Eq 'load_benchmark [0-9]' <<<"$report"; }
check "the clients are left out" clients_left_out
level64="$(sed -n '/^64 customers$/,$p' <<<"$report")"
check "median CPU per order of each side, B lower in 2 of 2" \
  grep -Eq '^ +CPU ms/order +7.000 +6.000 +2 of 2$' <<<"$level64"
check "median of a process: A 2.5, B 2.75, B lower in 1 of 2" \
  grep -Eq '^ +wonderland-medi +2.500 +2.750 +1 of 2$' <<<"$level64"
check "median p50: A 160, B 150, B lower in 1 of 2" \
  grep -Eq '^ +p50 ms +160.000 +150.000 +1 of 2$' <<<"$level64"

printf '%d passed, %d failed\n' "$passed" "$failed"
((failed == 0))
