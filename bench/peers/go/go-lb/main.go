// go-lb: a Go load balancer of the classic net/http + ReverseProxy design, the peer
// spindle-lb is measured against. Backends register themselves over /_lb/ (admin.go) and
// heartbeat every second; everything else is reverse-proxied round-robin over the live ones
// with httputil.ReverseProxy. pprof is served on -debug-listen. Prints the bound address on stdout; stops on SIGINT/SIGTERM.
//
// Usage: go-lb [-listen :8080] [-debug-listen 127.0.0.1:6060]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	_ "net/http/pprof" // registers /debug/pprof/ on http.DefaultServeMux
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 1000
	t.MaxIdleConnsPerHost = 100
	return t
}

// proxyFactory returns ReverseProxies that share one Transport (one pool of upstream
// connections) and answer 502 on upstream errors.
func proxyFactory(transport http.RoundTripper) func(*url.URL) *httputil.ReverseProxy {
	return func(u *url.URL) *httputil.ReverseProxy {
		p := httputil.NewSingleHostReverseProxy(u)
		p.Transport = transport
		p.ErrorHandler = func(w http.ResponseWriter, req *http.Request, err error) {
			w.WriteHeader(http.StatusBadGateway)
		}
		return p
	}
}

func handler(r *registry) http.Handler {
	admin := adminHandler(r)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.HasPrefix(req.URL.Path, "/_lb/") {
			admin.ServeHTTP(w, req)
			return
		}
		b := r.pick()
		if b == nil {
			http.Error(w, "no live backend", http.StatusServiceUnavailable)
			return
		}
		b.proxy.ServeHTTP(w, req)
	})
}

func main() {
	listen := flag.String("listen", ":8080", "address to serve on")
	debugListen := flag.String("debug-listen", "127.0.0.1:6060", "pprof address ('' for none)")
	flag.Parse()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("go-lb: %v", err)
	}
	fmt.Println(ln.Addr())
	if *debugListen != "" {
		dln, err := net.Listen("tcp", *debugListen)
		if err != nil {
			log.Fatalf("go-lb: debug listener: %v", err)
		}
		log.Printf("go-lb: pprof on http://%s/debug/pprof/", dln.Addr())
		go http.Serve(dln, http.DefaultServeMux)
	}

	reg := newRegistry(proxyFactory(newTransport()))
	stop := make(chan struct{})
	go reg.expireLoop(stop)
	srv := &http.Server{Handler: handler(reg), ReadHeaderTimeout: 10 * time.Second}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	go func() {
		<-ctx.Done()
		close(stop)
		shutdown, done := context.WithTimeout(context.Background(), 5*time.Second)
		defer done()
		srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("go-lb: %v", err)
	}
}
