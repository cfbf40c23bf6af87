// runtime-peer: Go's side of bench/runtime-vs-go. Each subcommand runs one scheduler
// micro-benchmark and prints exactly one line "RESULT <name> <value> <unit>" on stdout;
// progress and diagnostics go to stderr. bench/runtime/spindle_runtime_peer.cc is the same
// program on spindle's runtime; keep the two in step.
//
// Usage: runtime-peer spawn|pingpong|skynet|yield|mutex|parked-mem|parked-spawn [N]
// GOMAXPROCS comes from the environment.
package main

import (
	"fmt"
	"os"
	"strconv"
)

type benchmark struct {
	run         func(n int) (value float64, unit string)
	defaultN    int
	description string
}

var benchmarks = map[string]benchmark{
	"spawn":        {spawn, 1000000, "spawn and join N goroutines; ns per goroutine"},
	"pingpong":     {pingpong, 1000000, "N round trips over unbuffered channels; ns per round trip"},
	"skynet":       {skynet, 1000000, "N leaf goroutines, fan-out 10, sums over channels; total ms"},
	"yield":        {yieldBench, 1000000, "N Gosched calls over 2*GOMAXPROCS goroutines; ns per yield"},
	"mutex":        {mutexBench, 1000000, "N increments by 8 goroutines under one Mutex; ns per lock+unlock"},
	"parked-mem":   {parkedMem, 100000, "N goroutines parked on a receive; resident bytes per goroutine"},
	"parked-spawn": {parkedSpawn, 100000, "spawn N goroutines that each park on a receive; ns per goroutine until all are parked"},
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: runtime-peer <benchmark> [N]")
	for name, b := range benchmarks {
		fmt.Fprintf(os.Stderr, "  %-10s (N=%d) %s\n", name, b.defaultN, b.description)
	}
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 || len(os.Args) > 3 {
		usage()
	}
	name := os.Args[1]
	b, ok := benchmarks[name]
	if !ok {
		usage()
	}
	n := b.defaultN
	if len(os.Args) == 3 {
		v, err := strconv.Atoi(os.Args[2])
		if err != nil || v <= 0 {
			fmt.Fprintf(os.Stderr, "runtime-peer: N must be a positive integer, got %q\n", os.Args[2])
			os.Exit(2)
		}
		n = v
	}
	value, unit := b.run(n)
	fmt.Printf("RESULT %s %.1f %s\n", name, value, unit)
}

// fail reports a wrong result (a broken benchmark, not a slow one) and exits 1.
func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "runtime-peer: "+format+"\n", args...)
	os.Exit(1)
}
