#include "runtime/time.h"

#include "runtime/runtime.h"
#include "runtime/scheduler.h"
#include "runtime/timer.h"

namespace spindle::runtime {

void sleep_until(TimePoint t) {
  Goroutine* g = current("sleep");
  int64_t when = to_ns(t);
  if (when <= now_ns()) {
    yield();
    return;
  }
  RuntimeTimer timer;
  timer.fn = [](void* arg, uintptr_t) { ready(static_cast<Goroutine*>(arg), false); };
  timer.arg = g;
  timer.when = when;
  timer.track_running = false;  // the frame holding it is gone once the goroutine resumes
  // Armed after the switch (in the park's unlock function), so it cannot fire while g still
  // runs (Go's resetForSleep).
  park(
      WaitReason::kSleep,
      [](Goroutine*, void* arg) {
        timer_start(static_cast<RuntimeTimer*>(arg));
        return true;
      },
      &timer);
}

void sleep_for(Duration d) { sleep_until(Clock::now() + d); }

}  // namespace spindle::runtime
