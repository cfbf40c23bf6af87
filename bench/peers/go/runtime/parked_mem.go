// parked-mem and parked-spawn: the resident memory a parked goroutine costs, and the time to
// start goroutines that stay parked (each needs a stack of its own).
package main

import (
	"bufio"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

// residentBytes reads VmRSS from /proc/self/status.
func residentBytes() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		fail("parked-mem: %v", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) == 3 && fields[0] == "VmRSS:" && fields[2] == "kB" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				fail("parked-mem: bad VmRSS line %q", s.Text())
			}
			return kb * 1024
		}
	}
	fail("parked-mem: no VmRSS in /proc/self/status")
	return 0
}

// settledResidentBytes collects garbage and returns freed memory to the OS before reading RSS.
func settledResidentBytes() int64 {
	runtime.GC()
	debug.FreeOSMemory()
	return residentBytes()
}

// withParkedGoroutines spawns n goroutines that each park on a receive from one channel,
// calls whileParked once all have started, then closes the channel and waits for them.
func withParkedGoroutines(n int, whileParked func()) {
	release := make(chan struct{})
	var started, finished sync.WaitGroup
	started.Add(n)
	finished.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			started.Done()
			<-release
			finished.Done()
		}()
	}
	started.Wait()
	whileParked()
	close(release)
	finished.Wait()
}

// parkedMem: the RSS n parked goroutines add.
func parkedMem(n int) (float64, string) {
	before := settledResidentBytes()
	var after int64
	withParkedGoroutines(n, func() { after = settledResidentBytes() })
	return float64(after-before) / float64(n), "bytes/goroutine"
}

// parkedSpawn: the time to start n goroutines that stay parked (each needs a stack).
func parkedSpawn(n int) (float64, string) {
	start := time.Now()
	var ns float64
	withParkedGoroutines(n, func() { ns = float64(time.Since(start).Nanoseconds()) / float64(n) })
	return ns, "ns/goroutine"
}
