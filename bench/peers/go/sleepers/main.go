// sleepers: the timer benchmark's Go peer. N goroutines each sleep a random 0..max duration
// (fixed seed); lateness is how long after its deadline each one woke. Prints
// "RESULT wall_ms" (spawn to last wake-up) and "RESULT lateness_p99_us".
//
// Usage: sleepers [-n 100000] [-max 100ms]
package main

import (
	"flag"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"sync"
	"time"
)

func main() {
	n := flag.Int("n", 100000, "goroutines")
	max := flag.Duration("max", 100*time.Millisecond, "longest sleep")
	flag.Parse()
	if *n <= 0 || *max <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	rng := rand.New(rand.NewSource(1))
	sleeps := make([]time.Duration, *n)
	for i := range sleeps {
		sleeps[i] = time.Duration(rng.Int63n(int64(*max) + 1))
	}
	lateness := make([]time.Duration, *n)
	var wg sync.WaitGroup
	wg.Add(*n)
	start := time.Now()
	for i := 0; i < *n; i++ {
		go func(i int) {
			deadline := time.Now().Add(sleeps[i])
			time.Sleep(sleeps[i])
			lateness[i] = time.Since(deadline)
			wg.Done()
		}(i)
	}
	wg.Wait()
	wall := time.Since(start)
	sort.Slice(lateness, func(i, j int) bool { return lateness[i] < lateness[j] })
	p99 := lateness[int(0.99*float64(*n-1))]
	fmt.Printf("RESULT wall_ms %.1f ms\n", float64(wall.Nanoseconds())/1e6)
	fmt.Printf("RESULT lateness_p99_us %.1f us\n", float64(p99.Nanoseconds())/1e3)
}
