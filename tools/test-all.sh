#!/usr/bin/env bash
# Install dependencies, build, and pass every test:
#   1. a -Werror build: make check (unit + end-to-end), make distcheck, short fuzz runs;
#   2. a separate ASan+UBSan build that runs the whole suite again.
# Ends with one line "N passed, N failed" summing every Check test case and
# every end-to-end test of both runs.  Exit status is non-zero if anything failed.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh tools/install-deps.sh
jobs=$(nproc 2>/dev/null || echo 2)
status=0
autoreconf -fi >/dev/null 2>&1 || { autoreconf -fi; exit 1; }

run_suite() {  # name, configure args...
  local name=$1; shift
  local dir="$top/_build/$name"
  rm -rf "$dir"; mkdir -p "$dir"
  echo "=== [$name] configure $*"
  (cd "$dir" && "$top/configure" -q "$@") || return 1
  echo "=== [$name] make"
  make -C "$dir" -j"$jobs" >"$dir/make.log" 2>&1 || { tail -n 60 "$dir/make.log"; return 1; }
  echo "=== [$name] make check"
  make -C "$dir" -j"$jobs" check >"$dir/check.log" 2>&1
  local rc=$?
  grep -E '^(PASS|FAIL|XPASS|ERROR|SKIP|XFAIL):' "$dir/check.log" || true
  if [ $rc -ne 0 ]; then
    echo "--- [$name] failing test logs"
    for log in $(grep -lE '^:test-result: (FAIL|ERROR|XPASS)' $(find "$dir" -name '*.trs') 2>/dev/null | sed 's/\.trs$/.log/'); do
      echo "----- $log"; tail -n 80 "$log"
    done
  fi
  return $rc
}

count_results() {  # dir -> adds to passed/failed
  local dir=$1 f
  # Check binaries: count individual test cases from Check's own summary line.
  while IFS= read -r f; do
    local line
    line=$(grep -hE '^[0-9]+%: Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$f" | tail -n 1)
    if [ -n "$line" ]; then
      local n fl er
      n=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
      fl=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
      er=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
      passed=$((passed + n - fl - er)); failed=$((failed + fl + er))
    else
      local r; r=$(sed -n 's/^:test-result: //p' "${f%.log}.trs" 2>/dev/null | head -n 1)
      case "$r" in PASS|XFAIL) passed=$((passed + 1));; SKIP) skipped=$((skipped + 1));; *) failed=$((failed + 1));; esac
    fi
  done < <(find "$dir" -name '*.trs' | sed 's/\.trs$/.log/' | sort)
}

passed=0 failed=0 skipped=0
run_suite werror --enable-werror || status=1
count_results "$top/_build/werror"
if [ $status -eq 0 ]; then
  echo "=== [werror] make distcheck"
  make -C "$top/_build/werror" -j"$jobs" distcheck >"$top/_build/werror/distcheck.log" 2>&1 \
    || { tail -n 60 "$top/_build/werror/distcheck.log"; status=1; failed=$((failed + 1)); }
  [ $status -eq 0 ] && passed=$((passed + 1)) && echo "distcheck: ok"
  if command -v clang >/dev/null; then
    echo "=== [werror] make fuzz (short, fixed time)"
    make -C "$top/_build/werror" fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-15}" 2>&1 | tail -n 200 \
      || { status=1; failed=$((failed + 1)); }
  fi
fi
run_suite asan --enable-werror --enable-sanitizers CFLAGS="-O1 -g" || status=1
count_results "$top/_build/asan"
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ] || status=1
exit $status
