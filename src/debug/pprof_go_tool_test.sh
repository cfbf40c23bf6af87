#!/usr/bin/env bash
# `go tool pprof` (Debian's golang-go) reads spindle's profiles over HTTP: the CPU profile of a
# CPU-bound program lists its hot functions, a label filter (-tagfocus) keeps one goroutine's
# samples, the block profile names the function that waits on a channel, and the goroutine
# profile lists the program's goroutines.
# Usage: pprof_go_tool_test.sh PATH_TO_pprof_go_tool_program
set -euo pipefail
prog=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
"$root/scripts/ensure-packages" golang-go
tmp=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
export HOME=$tmp PPROF_TMPDIR=$tmp  # where pprof keeps fetched profiles

SPINDLE_DEBUG=blockprofilerate=1 "$prog" "$tmp/port" &
pid=$!
for _ in $(seq 300); do  # the program writes its port once it listens
  [ -s "$tmp/port" ] && break
  kill -0 "$pid" || { echo "FAIL: the program exited"; exit 1; }
  sleep 0.1
done
url=http://127.0.0.1:$(cat "$tmp/port")/debug/pprof

passed=0
failed=0
check() {  # check NAME FILE: reports and counts the outcome of the test just run
  if [ "$2" = ok ]; then
    echo "ok: $1"; passed=$((passed + 1))
  else
    echo "FAIL: $1"; cat "$3"; failed=$((failed + 1))
  fi
}

go tool pprof -top "$url/profile?seconds=2" >"$tmp/cpu" 2>&1 || true
if grep -q 'pprof_demo::hot_loop_a' "$tmp/cpu" && grep -q 'pprof_demo::hot_loop_b' "$tmp/cpu"; then
  check "CPU profile lists the hot functions" ok
else
  check "CPU profile lists the hot functions" no "$tmp/cpu"
fi

go tool pprof -top -tagfocus=worker=a "$url/profile?seconds=2" >"$tmp/tag" 2>&1 || true
if grep -q 'pprof_demo::hot_loop_a' "$tmp/tag" && ! grep -q 'pprof_demo::hot_loop_b' "$tmp/tag"; then
  check "-tagfocus=worker=a keeps only worker a's samples" ok
else
  check "-tagfocus=worker=a keeps only worker a's samples" no "$tmp/tag"
fi

go tool pprof -top "$url/block" >"$tmp/block" 2>&1 || true
if grep -q 'pprof_demo::wait_on_channel' "$tmp/block"; then
  check "block profile names the function waiting on a channel" ok
else
  check "block profile names the function waiting on a channel" no "$tmp/block"
fi

go tool pprof -top "$url/goroutine" >"$tmp/goroutine" 2>&1 || true
if grep -q 'Type: goroutine' "$tmp/goroutine" && grep -q 'Server::serve' "$tmp/goroutine"; then
  check "goroutine profile lists the program's goroutines" ok
else
  check "goroutine profile lists the program's goroutines" no "$tmp/goroutine"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
