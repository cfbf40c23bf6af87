// The scheduling benchmarks: spawn, pingpong, skynet, yield, mutex.
package main

import (
	"runtime"
	"sync"
	"time"
)

// nsPer is the elapsed time since start in nanoseconds, divided by ops.
func nsPer(start time.Time, ops int) float64 {
	return float64(time.Since(start).Nanoseconds()) / float64(ops)
}

// spawn starts n goroutines from one goroutine, each adding its index to its own slot, and
// waits for all of them.
func spawn(n int) (float64, string) {
	slots := make([]int64, n)
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func(i int) {
			slots[i] = int64(i)
			wg.Done()
		}(i)
	}
	wg.Wait()
	ns := nsPer(start, n)
	if slots[n-1] != int64(n-1) {
		fail("spawn: goroutine %d did not run", n-1)
	}
	return ns, "ns/goroutine"
}

// pingpong sends a value back and forth n times between two goroutines over two unbuffered
// channels.
func pingpong(n int) (float64, string) {
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
		close(pong)
	}()
	start := time.Now()
	v := 0
	for i := 0; i < n; i++ {
		ping <- v
		v = <-pong
	}
	ns := nsPer(start, n)
	close(ping)
	<-pong
	if v != n {
		fail("pingpong: got %d after %d round trips", v, n)
	}
	return ns, "ns/roundtrip"
}

// skynetNode sends the sum of num..num+size-1 to c, computed by a tree of goroutines with
// `div` children per node and one goroutine per leaf.
func skynetNode(c chan<- int64, num, size, div int64) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan int64)
	child := size / div
	for i := int64(0); i < div; i++ {
		go skynetNode(rc, num+i*child, child, div)
	}
	var sum int64
	for i := int64(0); i < div; i++ {
		sum += <-rc
	}
	c <- sum
}

// skynet runs the tree over n leaves (a power of 10) and checks the sum.
func skynet(n int) (float64, string) {
	c := make(chan int64)
	start := time.Now()
	go skynetNode(c, 0, int64(n), 10)
	sum := <-c
	ms := float64(time.Since(start).Nanoseconds()) / 1e6
	if want := int64(n) * int64(n-1) / 2; sum != want {
		fail("skynet: sum %d, want %d", sum, want)
	}
	return ms, "ms"
}

// yieldBench: 2*GOMAXPROCS goroutines each call runtime.Gosched n/G times.
func yieldBench(n int) (float64, string) {
	g := runtime.GOMAXPROCS(0) * 2
	per := n / g
	if per == 0 {
		per = 1
	}
	var wg sync.WaitGroup
	wg.Add(g)
	start := time.Now()
	for i := 0; i < g; i++ {
		go func() {
			for j := 0; j < per; j++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	return nsPer(start, g*per), "ns/yield"
}

// mutexBench: 8 goroutines share n increments of one counter guarded by a sync.Mutex.
func mutexBench(n int) (float64, string) {
	const workers = 8
	per := n / workers
	if per == 0 {
		per = 1
	}
	var mu sync.Mutex
	counter := 0
	var ready sync.WaitGroup
	var wg sync.WaitGroup
	ready.Add(1)
	wg.Add(workers)
	for i := 0; i < workers; i++ {
		go func() {
			ready.Wait()
			for j := 0; j < per; j++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	start := time.Now()
	ready.Done()
	wg.Wait()
	ns := nsPer(start, workers*per)
	if counter != workers*per {
		fail("mutex: counter %d, want %d", counter, workers*per)
	}
	return ns, "ns/op"
}
