// open-loop: a constant-rate (open-loop) HTTP load generator, like `vegeta attack` at a fixed
// rate; a stopgap for the benchmarks until spindle-load exists. Request i is due at
// start + i/rate whatever the server does: one scheduler goroutine sleeps until the next due
// time, then starts every request already due, each in its own goroutine (so it catches up when
// a sleep overshoots). Latency is measured from the request's *scheduled* time to the end of
// its response body, not from when it was actually sent: a stalled server (or a late generator)
// then shows up in the latencies instead of silently lowering the load ("coordinated
// omission"). With -max-in-flight requests outstanding, a due request is dropped (counted, not
// sent) and the schedule goes on. Requests during -warmup are sent but not recorded.
//
// Prints "RESULT <name> <value> <unit>" lines on stdout (offered_rate, sent, dropped,
// achieved_rate, ok, status_503, other_status, errors, unfinished, p50_ms, p90_ms, p99_ms,
// max_ms over 2xx answers, all_p99_ms over every answer, late_sends_p99_ms) and one summary
// line on stderr. A percentile with no samples is left out (the bench scripts then show
// "fail"). Exits 1 if no request was answered at all. Always exits within
// warmup + duration + timeout + 1 s.
//
// Usage: open-loop -url URL -rate R [-duration 5s] [-timeout 5s] [-max-in-flight 20000]
// [-warmup 0s]
package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// stats holds what the measured (post-warm-up) requests recorded; guarded by mu.
type stats struct {
	mu                                   sync.Mutex
	closed                               bool // set when reporting starts; later results are ignored
	sent, dropped, ok, s503, other, errs int
	okLat, allLat, late                  []time.Duration
}

// request sends one GET that was due at `due` and records its outcome if `measured`.
func request(client *http.Client, url string, due time.Time, measured bool, st *stats) {
	late := time.Since(due)
	status := 0
	resp, err := client.Get(url)
	if err == nil {
		status = resp.StatusCode
		_, err = io.Copy(io.Discard, resp.Body) // the full body counts; an error here is an error
		resp.Body.Close()
	}
	lat := time.Since(due) // from the scheduled time: see the header comment
	if !measured {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return
	}
	st.late = append(st.late, late)
	switch {
	case err != nil:
		st.errs++
		return
	case status >= 200 && status < 300:
		st.ok++
		st.okLat = append(st.okLat, lat)
	case status == http.StatusServiceUnavailable:
		st.s503++
	default:
		st.other++
	}
	st.allLat = append(st.allLat, lat)
}

// percentile returns the nearest-rank p-th percentile of d (sorting d in place).
func percentile(d []time.Duration, p float64) time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[int(math.Max(math.Ceil(p*float64(len(d))), 1))-1]
}

// printPercentile prints a percentile in milliseconds, or nothing when there are no samples.
func printPercentile(name string, d []time.Duration, p float64) {
	if len(d) > 0 {
		fmt.Printf("RESULT %s %.3f ms\n", name, float64(percentile(d, p).Nanoseconds())/1e6)
	}
}

func main() {
	url := flag.String("url", "", "target URL (GET)")
	rate := flag.Float64("rate", 0, "requests per second, constant")
	duration := flag.Duration("duration", 5*time.Second, "measured duration")
	timeout := flag.Duration("timeout", 5*time.Second, "per-request timeout")
	maxInFlight := flag.Int64("max-in-flight", 20000, "outstanding requests beyond which due requests are dropped")
	warmup := flag.Duration("warmup", 0, "sent but unrecorded load before the measured duration")
	maxConns := flag.Int("max-conns", 0, "connections to the server at most (0: no cap, Go's default)")
	flag.Parse()
	if *url == "" || *rate <= 0 || *duration <= 0 || *timeout <= 0 || *maxInFlight <= 0 || *warmup < 0 || *maxConns < 0 {
		flag.Usage()
		os.Exit(2)
	}
	client := &http.Client{Timeout: *timeout, Transport: &http.Transport{
		Proxy:               nil, // never through $http_proxy
		DialContext:         (&net.Dialer{Timeout: *timeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        10000,
		MaxIdleConnsPerHost: 10000,
		MaxConnsPerHost:     *maxConns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}}

	start := time.Now()
	measureFrom := start.Add(*warmup)
	schedEnd := measureFrom.Add(*duration)
	// Hard bound on the run: whatever happens, report (or give up) by these deadlines.
	reportBy := schedEnd.Add(*timeout + 500*time.Millisecond)
	time.AfterFunc(time.Until(schedEnd.Add(*timeout+time.Second-50*time.Millisecond)), func() {
		fmt.Fprintln(os.Stderr, "open-loop: still running past duration+timeout+1s, giving up")
		os.Exit(1)
	})

	var st stats
	var inFlight int64
	var wg sync.WaitGroup
	n := int64(float64(*warmup+*duration) / float64(time.Second) * *rate)
	interval := float64(time.Second) / *rate
	for i := int64(0); i < n; {
		due := start.Add(time.Duration(float64(i) * interval))
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		now := time.Now()
		if now.After(reportBy) {
			break // the generator fell hopelessly behind; stop rather than overrun the bound
		}
		// Start every request due by now, not just the one we slept for.
		for ; i < n; i++ {
			due = start.Add(time.Duration(float64(i) * interval))
			if due.After(now) {
				break
			}
			measured := !due.Before(measureFrom)
			if atomic.LoadInt64(&inFlight) >= *maxInFlight {
				if measured {
					st.mu.Lock()
					st.dropped++
					st.mu.Unlock()
				}
				continue
			}
			if measured {
				st.mu.Lock()
				st.sent++
				st.mu.Unlock()
			}
			atomic.AddInt64(&inFlight, 1)
			wg.Add(1)
			go func(due time.Time, measured bool) {
				defer wg.Done()
				defer atomic.AddInt64(&inFlight, -1)
				request(client, *url, due, measured, &st)
			}(due, measured)
		}
	}

	// Wait for outstanding requests; the client timeout ends them, reportBy bounds the wait.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Until(reportBy)):
	}
	st.mu.Lock()
	st.closed = true
	answered := st.ok + st.s503 + st.other
	unfinished := st.sent - answered - st.errs
	st.mu.Unlock()

	secs := duration.Seconds()
	fmt.Printf("RESULT offered_rate %g req/s\n", *rate)
	fmt.Printf("RESULT sent %d count\n", st.sent)
	fmt.Printf("RESULT dropped %d count\n", st.dropped)
	fmt.Printf("RESULT achieved_rate %.1f req/s\n", float64(answered)/secs)
	fmt.Printf("RESULT ok_rate %.1f req/s\n", float64(st.ok)/secs)
	fmt.Printf("RESULT ok %d count\n", st.ok)
	fmt.Printf("RESULT status_503 %d count\n", st.s503)
	fmt.Printf("RESULT other_status %d count\n", st.other)
	fmt.Printf("RESULT errors %d count\n", st.errs)
	fmt.Printf("RESULT unfinished %d count\n", unfinished)
	printPercentile("p50_ms", st.okLat, 0.50)
	printPercentile("p90_ms", st.okLat, 0.90)
	printPercentile("p99_ms", st.okLat, 0.99)
	printPercentile("max_ms", st.okLat, 1)
	printPercentile("all_p99_ms", st.allLat, 0.99)
	printPercentile("late_sends_p99_ms", st.late, 0.99)
	p99 := func(d []time.Duration) time.Duration {
		if len(d) == 0 {
			return 0
		}
		return percentile(d, 0.99).Round(time.Microsecond)
	}
	fmt.Fprintf(os.Stderr, "open-loop: %g req/s offered for %v: sent %d, dropped %d, ok %d, 503 %d, other %d, errors %d, unfinished %d; 2xx p99 %v, all p99 %v, late sends p99 %v\n",
		*rate, *duration, st.sent, st.dropped, st.ok, st.s503, st.other, st.errs, unfinished,
		p99(st.okLat), p99(st.allLat), p99(st.late))
	if answered == 0 {
		os.Exit(1)
	}
}
