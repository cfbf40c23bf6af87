// The /_lb/ admin API: register, heartbeat, deregister, backends.
package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

type registration struct {
	URL    string `json:"url"`
	Name   string `json:"name,omitempty"`
	Weight int    `json:"weight,omitempty"`
}

// decode reads a JSON registration body; it answers 400 and returns false when it is bad.
func decode(w http.ResponseWriter, req *http.Request) (registration, *url.URL, bool) {
	var reg registration
	body := http.MaxBytesReader(w, req.Body, 64*1024)
	if err := json.NewDecoder(body).Decode(&reg); err != nil {
		http.Error(w, "bad JSON: "+err.Error(), http.StatusBadRequest)
		return reg, nil, false
	}
	u, err := url.Parse(reg.URL)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		http.Error(w, `"url" must be http://HOST:PORT`, http.StatusBadRequest)
		return reg, nil, false
	}
	return reg, u, true
}

func adminHandler(r *registry) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/_lb/register", post(func(w http.ResponseWriter, req *http.Request) {
		reg, u, ok := decode(w, req)
		if !ok {
			return
		}
		if reg.Weight <= 0 {
			reg.Weight = 1
		}
		if reg.Name == "" {
			reg.Name = u.Host
		}
		r.register(u, reg.Name, reg.Weight)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]int64{
			"heartbeat_interval_ms": heartbeatInterval.Milliseconds()})
	}))
	mux.HandleFunc("/_lb/heartbeat", post(func(w http.ResponseWriter, req *http.Request) {
		if _, u, ok := decode(w, req); ok {
			if !r.heartbeat(u.String()) {
				http.Error(w, "unknown backend: register again", http.StatusNotFound)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	mux.HandleFunc("/_lb/deregister", post(func(w http.ResponseWriter, req *http.Request) {
		if _, u, ok := decode(w, req); ok {
			r.deregister(u.String())
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	mux.HandleFunc("/_lb/backends", func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet {
			http.Error(w, "GET only", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(describe(r.list(), time.Now()))
	})
	return mux
}

type backendInfo struct {
	URL                string `json:"url"`
	Name               string `json:"name"`
	Weight             int    `json:"weight"`
	Healthy            bool   `json:"healthy"`
	LastHeartbeatMsAgo int64  `json:"last_heartbeat_ms_ago"`
}

func describe(list []*backend, now time.Time) []backendInfo {
	out := make([]backendInfo, 0, len(list))
	for _, b := range list {
		out = append(out, backendInfo{
			URL: b.url, Name: b.name, Weight: b.weight, Healthy: b.alive(now),
			LastHeartbeatMsAgo: (now.UnixNano() - b.lastHeartbeat.Load()) / 1e6,
		})
	}
	return out
}

func post(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		h(w, req)
	}
}
