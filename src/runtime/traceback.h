// Goroutine dumps: every goroutine with its state, how long it has waited, where it was created
// and its stack, in Go's text layout (runtime.Stack(buf, true), /debug/pprof/goroutine?debug=2,
// the SIGQUIT dump; Go's runtime/traceback.go). The grouped form (debug=1) is built from the same
// records in src/debug/goroutine_dump.h. How a dump reads other goroutines' stacks without a
// data race: scan_gate.h. docs/observability.md, "Goroutine dumps", shows the output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "debug/symbolize.h"

namespace spindle::runtime {

// Frames kept per goroutine; Go's traceback stops at 100 too.
inline constexpr size_t kMaxFrames = 100;

// One goroutine as a dump saw it.
struct GoroutineRecord {
  uint64_t id = 0;
  // What Go's header shows in brackets: a parked goroutine's wait reason ("chan receive"), else
  // its status ("running", "runnable", "syscall", "waiting").
  std::string state;
  // When it parked or entered its blocking call (coarse_now_ns() time); 0 when neither.
  int64_t waiting_since_ns = 0;
  bool locked_to_thread = false;  // lock_os_thread(); known for goroutines not running
  bool current = false;           // the goroutine that took the snapshot
  // Return addresses, innermost first, and whether there were more than kMaxFrames.
  std::vector<uintptr_t> stack;
  bool truncated = false;
  // Why `stack` is empty ("goroutine running on other thread; stack unavailable"), or null.
  const char* no_stack = nullptr;
  uintptr_t created_pc = 0;  // return address of the go() call; 0: not started by go()
  uint64_t created_in = 0;   // the goroutine that called go(); 0: none
};

// Every goroutine that exists (not the dead ones), the caller's own first (when called from a
// goroutine), then by id. Stacks of goroutines that are running on other threads or inside
// blocking() are not read (they change under us); every other goroutine is kept from starting
// while its stack is read (scan_gate.h), a pause of microseconds per goroutine for Ms about to
// start one. Any thread; needs a live Runtime (else empty). Does not park, takes no P.
std::vector<GoroutineRecord> goroutine_snapshot();

// "goroutine 7 [chan receive, 3 minutes, locked to thread]:" as Go prints it: the minutes only
// when the goroutine has waited (parked or in blocking()) for at least one, at time now_ns.
std::string goroutine_header(const GoroutineRecord& g, int64_t now_ns);

// Which of a stack's symbolised frames (symbolize_inlined, flattened) a dump shows, [first,
// last): the runtime's own frames at the innermost end are dropped except the outermost of them
// (the call the goroutine made into the runtime: Chan<T>::recv, sleep_for, Mutex::lock), and
// those at the outermost end (goroutine_entry, the base::Task that calls the goroutine's
// function, the context trampoline), as Go hides runtime.gopark and runtime.goexit. All frames
// when only runtime frames would be left.
std::pair<size_t, size_t> shown_frames(std::span<const debug::Frame> frames);

// Go's layout of runtime.Stack(buf, true): for each goroutine its header, its frames
// ("function(...)" then "\tfile:line +0xoffset"), "created by F in goroutine N" with its
// file:line, goroutines separated by a blank line. Symbolises (symbolize.h): from a goroutine,
// call it inside blocking().
std::string format_goroutines(std::span<const GoroutineRecord> goroutines);

// SIGQUIT, as in Go: all goroutines to stderr, then exit status 2. Installed by a Runtime
// (Options::dump_on_sigquit) unless the program installed a SIGQUIT handler of its own (an
// inherited SIG_IGN is overridden, as Go does); removed by its destructor.
// The handler only wakes a thread that writes the dump, so the dump itself may allocate and
// symbolise. It cannot help a process whose allocator lock is held by a thread that never
// returns.
void install_sigquit_dump();
void remove_sigquit_dump();

}  // namespace spindle::runtime
