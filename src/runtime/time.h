// Time: sleeping goroutines, one-shot and periodic timers, and timer channels for select.
// Timers live in a 4-ary min-heap per processor; the netpoller sleeps until the nearest one.
// Design: docs/runtime.md, "Timers".
#pragma once

#include <chrono>

#include "base/task.h"
#include "runtime/netpoll.h"

namespace spindle::runtime {

using Duration = Clock::duration;

// Parks the calling goroutine for at least d (until t); no thread is held.
void sleep_for(Duration d);
void sleep_until(TimePoint t);

}  // namespace spindle::runtime
