// blocking(fn): runs a call that may block its thread (a system call, getaddrinfo, file I/O)
// without holding up the other goroutines of its processor (Go's entersyscall/exitsyscall).
// If the call lasts more than ~20 µs, sysmon hands the processor to another thread; on return
// the goroutine takes a processor back, or queues itself and its thread parks.
// fn must not park (channels, locks, sleep, sockets), yield or call blocking() again: each is a
// fatal error naming the goroutine and the call (its processor would be left to nobody).
#pragma once

#include <utility>

namespace spindle::runtime {

void enter_blocking();  // must be paired with exit_blocking on the same goroutine
void exit_blocking();

template <typename F>
auto blocking(F&& fn) -> decltype(fn()) {
  struct Guard {
    Guard() { enter_blocking(); }
    ~Guard() { exit_blocking(); }
  } guard;
  return std::forward<F>(fn)();
}

}  // namespace spindle::runtime
