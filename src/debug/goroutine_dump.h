// Goroutine dumps on the debug listener: /debug/pprof/goroutine?debug=1 (goroutines grouped by
// identical stack, with counts) and ?debug=2 (every goroutine, runtime/traceback.h), in Go's
// text layouts, and without debug (or debug=0) the goroutine profile in pprof's protobuf form,
// so the habits and tools of Go users apply (`go tool pprof URL/debug/pprof/goroutine`).
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "debug/pprof_profile.h"
#include "runtime/traceback.h"

namespace spindle::debug {

// Go's debug=1 layout (runtime/pprof's count profile): "goroutine profile: total N", then per
// distinct stack "COUNT @ 0xpc 0xpc ..." (every return address, innermost first) and one
// "#\t0xpc\tfunction+0xoffset\tfile:line" line per frame shown (runtime.shown_frames), then a
// blank line. Most frequent stack first. Goroutines whose stack could not be read (running on
// another thread) form groups of their own, with the reason on a "#" line. Symbolises: from a
// goroutine, call it inside blocking().
std::string goroutine_profile_text(std::span<const runtime::GoroutineRecord> goroutines);

// Go's goroutine profile: sample type goroutine/count, one sample per distinct stack whose
// value is the number of goroutines with that stack. Goroutines whose stack could not be read
// share a sample per reason, with no locations and the reason as the label "stack".
Profile goroutine_profile(std::span<const runtime::GoroutineRecord> goroutines,
                          int64_t time_unix_ns);

// What /debug/pprof/goroutine answers for the query string `query` ("debug=2"), as Go reads it:
// debug >= 2 every goroutine, debug=1 grouped; no debug or 0 (or not a number) the gzipped
// profile.proto of goroutine_profile, which `profile` marks. From a goroutine.
struct Page {
  int status = 200;
  std::string body;
  bool profile = false;  // body is a gzipped profile.proto, not text
};
Page goroutine_page(std::string_view query);

}  // namespace spindle::debug
