// go-backend: a tiny backend for go-lb and spindle-lb. GET / answers "hello from NAME".
// With -lb it registers with the balancer, heartbeats at the interval the balancer asks for,
// registers again when a heartbeat gets 404 (it expired), and deregisters on SIGINT/SIGTERM.
// Prints the bound address on stdout.
//
// Usage: go-backend [-listen 127.0.0.1:0] [-lb http://HOST:PORT] [-name NAME]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

var client = &http.Client{Timeout: 2 * time.Second}

// call POSTs a JSON body to the balancer's admin path and returns the response status and
// body.
func call(lb, path string, body any) (int, []byte, error) {
	data, _ := json.Marshal(body)
	resp, err := client.Post(lb+path, "application/json", bytes.NewReader(data))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	out.ReadFrom(resp.Body)
	return resp.StatusCode, out.Bytes(), nil
}

// register returns the heartbeat interval the balancer asked for.
func register(lb, self, name string) (time.Duration, error) {
	status, body, err := call(lb, "/_lb/register", map[string]string{"url": self, "name": name})
	if err != nil {
		return 0, err
	}
	if status != http.StatusOK {
		return 0, fmt.Errorf("register: status %d: %s", status, body)
	}
	var reply struct {
		HeartbeatIntervalMs int64 `json:"heartbeat_interval_ms"`
	}
	if err := json.Unmarshal(body, &reply); err != nil || reply.HeartbeatIntervalMs <= 0 {
		return 0, fmt.Errorf("register: bad reply %q", body)
	}
	return time.Duration(reply.HeartbeatIntervalMs) * time.Millisecond, nil
}

// keepRegistered registers, then heartbeats until ctx is done, then deregisters.
func keepRegistered(ctx context.Context, lb, self, name string) {
	interval := time.Second
	registered := false
	for {
		if !registered {
			if iv, err := register(lb, self, name); err != nil {
				log.Printf("go-backend: %v", err)
			} else {
				interval, registered = iv, true
			}
		} else if status, _, err := call(lb, "/_lb/heartbeat", map[string]string{"url": self}); err != nil {
			log.Printf("go-backend: heartbeat: %v", err)
		} else if status == http.StatusNotFound {
			registered = false
			continue
		}
		select {
		case <-ctx.Done():
			call(lb, "/_lb/deregister", map[string]string{"url": self})
			return
		case <-time.After(interval):
		}
	}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	lb := flag.String("lb", "", "balancer to register with, http://HOST:PORT (none if empty)")
	name := flag.String("name", "", "name in replies (default: the bound address)")
	flag.Parse()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("go-backend: %v", err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	fmt.Println(addr)
	if *name == "" {
		*name = addr.String()
	}
	greeting := []byte("hello from " + *name + "\n")
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(greeting)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	registered := make(chan struct{})
	if *lb != "" {
		host := addr.IP.String()
		if addr.IP.IsUnspecified() {
			host = "127.0.0.1"
		}
		self := "http://" + net.JoinHostPort(host, fmt.Sprint(addr.Port))
		go func() {
			keepRegistered(ctx, *lb, self, *name)
			close(registered)
		}()
	} else {
		close(registered)
	}
	go func() {
		<-ctx.Done()
		<-registered // deregister first, so the balancer stops sending before we stop serving
		shutdown, done := context.WithTimeout(context.Background(), 5*time.Second)
		defer done()
		srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("go-backend: %v", err)
	}
}
