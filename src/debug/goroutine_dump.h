// Goroutine dumps on the debug listener: /debug/pprof/goroutine?debug=1 (goroutines grouped by
// identical stack, with counts) and ?debug=2 (every goroutine, runtime/traceback.h), in Go's
// text layouts, so the habits and tools of Go users apply.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "runtime/traceback.h"

namespace spindle::debug {

// Go's debug=1 layout (runtime/pprof's count profile): "goroutine profile: total N", then per
// distinct stack "COUNT @ 0xpc 0xpc ..." (every return address, innermost first) and one
// "#\t0xpc\tfunction+0xoffset\tfile:line" line per frame shown (runtime.shown_frames), then a
// blank line. Most frequent stack first. Goroutines whose stack could not be read (running on
// another thread) form groups of their own, with the reason on a "#" line. Symbolises: from a
// goroutine, call it inside blocking().
std::string goroutine_profile_text(std::span<const runtime::GoroutineRecord> goroutines);

// What /debug/pprof/goroutine answers for the query string `query` ("debug=2"), as Go reads it:
// debug >= 2 every goroutine, debug=1 grouped; no debug or 0 (or not a number) asks for the
// protobuf profile, which is not served: `status` 501. From a goroutine.
struct Page {
  int status = 200;
  std::string body;
};
Page goroutine_page(std::string_view query);

}  // namespace spindle::debug
