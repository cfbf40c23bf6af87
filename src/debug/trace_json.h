// An execution trace (runtime/trace.h) as Chrome trace-event JSON, the format Perfetto
// (ui.perfetto.dev) and chrome://tracing open. Served by the debug listener at
// /debug/pprof/trace?seconds=N; docs/observability.md shows how to read it.
#pragma once

#include <string>
#include <string_view>

#include "http/server.h"
#include "runtime/trace.h"

namespace spindle::debug {

// The layout:
//   process 0 "Ps": one thread (timeline) per P, a slice "G<id>" for each time a goroutine
//     ran on it, and instants where the P was handed off or retaken by sysmon;
//   process 1 "Ms": one thread per M (and sysmon, and threads outside the runtime that
//     readied goroutines): the same goroutine slices, "blocking call", "spinning", "idle" and
//     "blocked in netpoll" slices, and instants for unparks, creates, steals and polls;
//   flow arrows (ph "s" at the unpark or create, "f" at the run it caused).
// A goroutine slice's args say why it ended ("end": "park: chan receive", "yield", "exit",
// "blocking call, P lost", "P taken"). otherData.dropped_events counts events lost to full
// buffers or the collector's cap.
std::string chrome_trace_json(runtime::trace::Trace trace);

// Answers /debug/pprof/trace?seconds=N (Go's endpoint; N from 0.001 to 60, default 1): records
// for N seconds from the calling goroutine, draining every 10 ms, and replies with the JSON.
// 409 while another trace runs, 400 for a bad N.
void serve_execution_trace(std::string_view target, http::ResponseWriter& w);

}  // namespace spindle::debug
