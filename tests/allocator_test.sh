#!/bin/bash
# Each binary given allocates with jemalloc (WONDERLAND_JEMALLOC): asked through MALLOC_CONF,
# jemalloc prints its statistics when the process exits, and the C library's malloc would not.
# An invalid log level makes a service exit at once, before it connects to anything.
#   allocator_test.sh BINARY...
set -u
failed=0
for bin in "$@"; do
  out="$(WONDERLAND_LOG_LEVEL=invalid MALLOC_CONF=stats_print:true timeout 10 "$bin" --help \
    2>&1 </dev/null)"
  if grep -q 'Begin jemalloc statistics' <<<"$out"; then
    echo "ok: $(basename "$bin") allocates with jemalloc"
  else
    echo "FAIL: $(basename "$bin") does not allocate with jemalloc"
    failed=1
  fi
done
exit "$failed"
