// Note: a one-shot wake-up flag on a futex word (Go's note), for one sleeper and one waker.
// Idle Ms park on one (Machine::park), sysmon sleeps on one.
#pragma once

#include <atomic>
#include <cstdint>

namespace spindle::runtime {

class Note {
 public:
  void sleep();  // returns once wakeup() was called; then clears the flag
  // Like sleep, but gives up after timeout_ns; true if woken.
  bool sleep_for(int64_t timeout_ns);
  void wakeup();

 private:
  std::atomic<uint32_t> key_{0};
};

}  // namespace spindle::runtime
