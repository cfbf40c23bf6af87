// echo-load: a closed-loop load generator for TCP echo servers. C connections each send an
// M-byte message, wait for all M bytes back, and repeat for D seconds. Prints
// "RESULT throughput <msgs/s>", "RESULT p50_us" and "RESULT p99_us" (round-trip latency).
//
// Usage: echo-load -addr HOST:PORT [-c 50] [-m 64] [-d 5s]
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"sync"
	"time"
)

// connection runs one closed loop until `end` and returns its round-trip latencies.
func connection(addr string, size int, end time.Time) ([]time.Duration, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(end.Add(5 * time.Second)) // a stuck server fails the run instead of hanging it
	msg := make([]byte, size)
	for i := range msg {
		msg[i] = byte('a' + i%26)
	}
	reply := make([]byte, size)
	var latencies []time.Duration
	for time.Now().Before(end) {
		start := time.Now()
		if _, err := c.Write(msg); err != nil {
			return latencies, err
		}
		if _, err := io.ReadFull(c, reply); err != nil {
			return latencies, err
		}
		latencies = append(latencies, time.Since(start))
	}
	return latencies, nil
}

func percentileMicros(sorted []time.Duration, p float64) float64 {
	i := int(p * float64(len(sorted)-1))
	return float64(sorted[i].Nanoseconds()) / 1e3
}

func main() {
	addr := flag.String("addr", "", "echo server address (HOST:PORT)")
	conns := flag.Int("c", 50, "connections")
	size := flag.Int("m", 64, "message size in bytes")
	duration := flag.Duration("d", 5*time.Second, "duration")
	flag.Parse()
	if *addr == "" || *conns <= 0 || *size <= 0 || *duration <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	var mu sync.Mutex
	var all []time.Duration
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(*duration)
	for i := 0; i < *conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat, err := connection(*addr, *size, end)
			mu.Lock()
			defer mu.Unlock()
			all = append(all, lat...)
			if err != nil && firstErr == nil {
				firstErr = err
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil || len(all) == 0 {
		fmt.Fprintf(os.Stderr, "echo-load: %d round trips, error: %v\n", len(all), firstErr)
		os.Exit(1)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	fmt.Printf("RESULT throughput %.0f msgs/s\n", float64(len(all))/elapsed.Seconds())
	fmt.Printf("RESULT p50_us %.1f us\n", percentileMicros(all, 0.50))
	fmt.Printf("RESULT p99_us %.1f us\n", percentileMicros(all, 0.99))
}
