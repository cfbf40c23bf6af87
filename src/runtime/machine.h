// Machine (M): an OS thread that runs goroutines while it holds a P. Ms are created lazily,
// parked on a futex when idle and reused, never destroyed before the Runtime. Each has a
// scheduler context (g0: its own thread stack) that goroutines switch back to when they park,
// yield or exit. See "Machines" in scheduler.cc's design comment.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>

#include "runtime/context.h"
#include "runtime/scheduler.h"

namespace spindle::runtime {

struct Goroutine;
struct Processor;

// A one-shot wake-up flag on a futex (Go's note): one sleeper, one waker.
class Note {
 public:
  void sleep();  // returns once wakeup() was called; then clears the flag
  // Like sleep, but gives up after timeout_ns; true if woken.
  bool sleep_for(int64_t timeout_ns);
  void wakeup();

 private:
  std::atomic<uint32_t> key_{0};
};

// What the scheduler context does with the goroutine that just switched back to it.
enum class AfterSwitch : uint8_t { kNone, kPark, kYield, kExit, kExitBlocking };

class Machine {
 public:
  explicit Machine(int mid) : id(mid) {}

  const int id;
  std::thread thread;
  Context g0;  // scheduler context, saved while a goroutine runs
  // This thread's C++ exception globals (looked up once when the thread starts).
  ExceptionState* exceptions = nullptr;
  Goroutine* curg = nullptr;      // running goroutine, null on g0
  Processor* p = nullptr;         // held P, null when idle
  Processor* nextp = nullptr;     // P handed over by startm, taken when woken
  bool spinning = false;          // looking for work with a P and none found yet
  Note park;                      // sleeps here when idle (Scheduler::stop_m)
  Machine* idle_next = nullptr;   // link in Scheduler's idle list (under its lock)
  Goroutine* locked_g = nullptr;  // lock_os_thread: the only goroutine this M runs
  Goroutine* next_g = nullptr;    // locked_g handed back by start_locked_m
  uint64_t rand_state = 0;

  // Set by the goroutine right before it switches to g0, read there (Go's mcall argument).
  AfterSwitch after = AfterSwitch::kNone;
  UnlockFn unlock = nullptr;
  void* unlock_arg = nullptr;

  // Sanitizer bookkeeping for g0.
  void* tsan_fiber = nullptr;
  const void* stack_bottom = nullptr;
  size_t stack_size = 0;
  void* asan_fake_stack = nullptr;
  void* signal_stack = nullptr;
};

// The M of the calling thread, or null on threads the runtime did not create. Not inlined, so
// code that parks and resumes on another thread re-reads it (a cached TLS address would be
// the old thread's).
Machine* this_m();

}  // namespace spindle::runtime
