// The backend registry: backends register, heartbeat and deregister over /_lb/; a backend
// whose last heartbeat is older than expireAfter is dropped. Picks are round-robin over a
// copy-on-write snapshot, so the request path takes no lock.
package main

import (
	"net/http/httputil"
	"net/url"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

const (
	heartbeatInterval = time.Second
	expireAfter       = 3 * time.Second
)

type backend struct {
	url           string
	name          string
	weight        int // recorded and reported; the round-robin ignores it
	proxy         *httputil.ReverseProxy
	lastHeartbeat atomic.Int64 // unix nanoseconds
}

func (b *backend) alive(now time.Time) bool {
	return now.UnixNano()-b.lastHeartbeat.Load() < int64(expireAfter)
}

type registry struct {
	newProxy func(*url.URL) *httputil.ReverseProxy

	mu       sync.Mutex
	backends map[string]*backend // by URL; guarded by mu

	snapshot atomic.Pointer[[]*backend] // sorted by URL, rebuilt under mu on every change
	next     atomic.Uint64
}

func newRegistry(newProxy func(*url.URL) *httputil.ReverseProxy) *registry {
	r := &registry{newProxy: newProxy, backends: map[string]*backend{}}
	r.publishLocked()
	return r
}

// publishLocked rebuilds the snapshot the request path reads. Callers hold mu.
func (r *registry) publishLocked() {
	list := make([]*backend, 0, len(r.backends))
	for _, b := range r.backends {
		list = append(list, b)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].url < list[j].url })
	r.snapshot.Store(&list)
}

// register adds a backend, or refreshes it (name, weight, heartbeat) if already known.
func (r *registry) register(u *url.URL, name string, weight int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := u.String()
	b, ok := r.backends[key]
	if !ok {
		b = &backend{url: key, proxy: r.newProxy(u)}
	}
	b.name, b.weight = name, weight
	b.lastHeartbeat.Store(time.Now().UnixNano())
	r.backends[key] = b
	r.publishLocked()
}

// heartbeat refreshes a live backend; false if it is unknown (never registered or expired).
func (r *registry) heartbeat(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.backends[key]
	if !ok || !b.alive(time.Now()) {
		return false
	}
	b.lastHeartbeat.Store(time.Now().UnixNano())
	return true
}

func (r *registry) deregister(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.backends[key]; ok {
		delete(r.backends, key)
		r.publishLocked()
	}
}

// expire drops every backend whose heartbeat is older than expireAfter.
func (r *registry) expire(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	changed := false
	for key, b := range r.backends {
		if !b.alive(now) {
			delete(r.backends, key)
			changed = true
		}
	}
	if changed {
		r.publishLocked()
	}
}

// expireLoop runs expire until stop is closed.
func (r *registry) expireLoop(stop <-chan struct{}) {
	t := time.NewTicker(expireAfter / 6)
	defer t.Stop()
	for {
		select {
		case now := <-t.C:
			r.expire(now)
		case <-stop:
			return
		}
	}
}

// pick returns the next live backend in round-robin order, or nil if there is none.
func (r *registry) pick() *backend {
	list := *r.snapshot.Load()
	now := time.Now()
	for range list {
		b := list[(r.next.Add(1)-1)%uint64(len(list))]
		if b.alive(now) {
			return b
		}
	}
	return nil
}

func (r *registry) list() []*backend {
	return *r.snapshot.Load()
}
