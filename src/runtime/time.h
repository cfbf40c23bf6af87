// Time: sleeping goroutines, one-shot and periodic timers, and timer channels for select.
// Timers live in a 4-ary min-heap per processor; the netpoller sleeps until the nearest one.
// Design: docs/runtime.md, "Timers".
#pragma once

#include <memory>

#include "base/time.h"
#include "runtime/channel.h"

namespace spindle::runtime {

// Where a sleeper goes when its timer fires. kInOrder: the tail of its processor's run queue,
// so sleepers woken in one batch run in deadline order. kFirst: the processor's next slot (Go's
// runnext, where Go puts every woken sleeper), ahead of everything queued: for a goroutine that
// paces others, such as a load generator's sender, whose lateness would otherwise include the
// whole run queue. The last kFirst sleeper woken in a batch runs first.
enum class Wake { kInOrder, kFirst };

// Parks the calling goroutine for at least d (until t); no thread is held.
void sleep_for(base::Duration d);
void sleep_until(base::TimePoint t, Wake wake = Wake::kInOrder);

// A channel that receives the time once, d from now (Go's time.After). For select.
Chan<base::TimePoint> after(base::Duration d);

// Go's time.Timer: after d, the fire time is sent on c() (capacity 1). stop and reset are
// O(log n) and, as in Go 1.23, discard a value that fired but was not yet received, so no
// stale time is received after they return. Owned by one goroutine at a time.
class Timer {
 public:
  explicit Timer(base::Duration d);
  ~Timer();  // stops it
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  Chan<base::TimePoint>& c();
  // True if the timer was pending (it will now not fire).
  bool stop();
  // Re-arms the timer for d from now; true if it was pending.
  bool reset(base::Duration d);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Go's time.Ticker: sends the time on c() every period; a slow receiver misses ticks instead
// of queueing them (capacity 1).
class Ticker {
 public:
  explicit Ticker(base::Duration period);  // period > 0, else fatal
  ~Ticker();
  Ticker(const Ticker&) = delete;
  Ticker& operator=(const Ticker&) = delete;

  Chan<base::TimePoint>& c();
  void stop();
  void reset(base::Duration period);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace spindle::runtime
