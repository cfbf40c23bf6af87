# shellcheck shell=bash
# Helpers shared by the bench/*-vs-* scripts: build a Go peer, run two programs alternately and
# collect their RESULT lines, then print one Markdown table of medians and ratios.
# Source it from a script that has already cd'ed to the repository root.
#
#   bench_go_build NAME          builds bench/peers/go/NAME into build/go/, prints the binary path
#   bench_rows_init FILE         starts a rows file (see bench/lib/results.py)
#   bench_pair LABEL RESULT RUNS 'COMMAND A' 'COMMAND B'
#                                runs A and B RUNS times each, in the order AB BA AB ...,
#                                and appends their RESULT values as one row
#   bench_table A_NAME B_NAME    prints the table for the rows file
#   bench_cpu_ticks PID          utime+stime clock ticks of PID and its child processes
#   bench_free_port              a free loopback TCP port (for servers that cannot bind :0)

BENCH_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_RUN_TIMEOUT=${BENCH_RUN_TIMEOUT:-300}  # seconds one run may take before it counts as failed
BENCH_ROWS=""
BENCH_LOG=${BENCH_LOG:-/dev/null}            # every run's full output is appended here
BENCH_FAILURES=0

bench_log() { echo "$*" >&2; }

bench_go_build() {
  local name=$1 out
  out=$(pwd)/build/go/$(basename "$name")
  mkdir -p "$(dirname "$out")"
  # Standard library only: no module is ever downloaded.
  (cd "bench/peers/go/$name" && GOPROXY=off GOFLAGS='' go build -o "$out" .) >&2
  echo "$out"
}

bench_rows_init() {
  BENCH_ROWS=$1
  : >"$BENCH_ROWS"
}

# Runs one command (a shell string, so it may start with VAR=value assignments) and prints
# "VALUE UNIT" from its RESULT line named $1, or "fail".
bench_run_once() {
  local name=$1 cmd=$2 out rc=0
  echo "\$ $cmd" >>"$BENCH_LOG"
  out=$(timeout "$BENCH_RUN_TIMEOUT" bash -c "$cmd" 2>>"$BENCH_LOG") || rc=$?
  echo "$out" >>"$BENCH_LOG"
  if ((rc != 0)); then
    echo "  (exit $rc)" >>"$BENCH_LOG"
    echo fail
    return
  fi
  python3 "$BENCH_LIB/results.py" value "$name" <<<"$out" || echo fail
}

bench_pair() {
  local label=$1 name=$2 runs=$3 cmd_a=$4 cmd_b=$5 i a b a_vals=() b_vals=() unit="?"
  for ((i = 0; i < runs; i++)); do
    if ((i % 2 == 0)); then
      a=$(bench_run_once "$name" "$cmd_a"); b=$(bench_run_once "$name" "$cmd_b")
    else
      b=$(bench_run_once "$name" "$cmd_b"); a=$(bench_run_once "$name" "$cmd_a")
    fi
    if [[ $a == fail || $b == fail ]]; then BENCH_FAILURES=$((BENCH_FAILURES + 1)); fi
    if [[ $a != fail ]]; then unit=${a#* }; fi
    if [[ $b != fail ]]; then unit=${b#* }; fi
    a_vals+=("${a%% *}"); b_vals+=("${b%% *}")
    bench_log "  $label, run $((i + 1))/$runs: ${a%% *} | ${b%% *}  ($unit)"
  done
  printf '%s\t%s\t%s\t%s\n' "$label" "$unit" "${a_vals[*]}" "${b_vals[*]}" >>"$BENCH_ROWS"
}

bench_table() {
  python3 "$BENCH_LIB/results.py" table --a "$1" --b "$2" "$BENCH_ROWS"
}

bench_cpu_ticks() {
  local total=0 p
  for p in $1 $(pgrep -P "$1" || true); do
    [[ -r /proc/$p/stat ]] || continue
    total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$total"
}

bench_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
