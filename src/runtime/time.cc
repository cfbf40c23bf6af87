#include "runtime/time.h"

#include <string>

#include "base/check.h"
#include "runtime/runtime.h"
#include "runtime/scheduler.h"
#include "runtime/timer.h"

namespace spindle::runtime {

using base::Clock;
using base::Duration;
using base::TimePoint;

namespace {

int64_t from_now(Duration d) { return now_ns() + d.count(); }

// Timer function of channel timers: runs on a scheduler thread, so the send must not park.
void send_time(void* arg, uintptr_t) {
  auto* ch = static_cast<Chan<TimePoint>*>(arg);
  ch->try_send_from_runtime(base::from_ns(now_ns()));
}

void drain(Chan<TimePoint>& ch) {
  while (ch.try_recv().has_value()) {
  }
}

}  // namespace

void sleep_until(TimePoint t, Wake wake) {
  Goroutine* g = current("sleep");
  int64_t when = base::to_ns(t);
  if (when <= now_ns()) {
    yield();
    return;
  }
  RuntimeTimer timer;
  // By default at the queue's tail, not in runnext: sleepers whose timers fire in one batch
  // then run in deadline order (runnext would run the last one woken first).
  if (wake == Wake::kFirst) {
    timer.fn = [](void* arg, uintptr_t) { ready(static_cast<Goroutine*>(arg), /*next=*/true); };
  } else {
    timer.fn = [](void* arg, uintptr_t) { ready(static_cast<Goroutine*>(arg), /*next=*/false); };
  }
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

Chan<TimePoint> after(Duration d) {
  // Owns itself until it fires: then the channel (shared with the caller) is all that is left.
  struct Once {
    Chan<TimePoint> ch = make_chan<TimePoint>(1);
    RuntimeTimer timer;
  };
  auto* once = new Once;
  Chan<TimePoint> ch = once->ch;
  once->timer.fn = [](void* arg, uintptr_t) {
    auto* self = static_cast<Once*>(arg);
    Chan<TimePoint> c = std::move(self->ch);
    delete self;
    c.try_send_from_runtime(base::from_ns(now_ns()));
  };
  once->timer.arg = once;
  once->timer.when = from_now(d);
  once->timer.track_running = false;  // fn frees it
  timer_start(&once->timer);
  return ch;
}

struct Timer::State {
  Chan<TimePoint> ch = make_chan<TimePoint>(1);
  RuntimeTimer timer;
};

Timer::Timer(Duration d) : state_(std::make_unique<State>()) {
  state_->timer.fn = &send_time;
  state_->timer.arg = &state_->ch;
  state_->timer.when = from_now(d);
  timer_start(&state_->timer);
}

Timer::~Timer() { timer_stop(&state_->timer); }

Chan<TimePoint>& Timer::c() { return state_->ch; }

bool Timer::stop() {
  bool pending = timer_stop(&state_->timer);
  drain(state_->ch);
  return pending;
}

bool Timer::reset(Duration d) {
  bool pending = timer_stop(&state_->timer);
  drain(state_->ch);
  state_->timer.when = from_now(d);
  timer_start(&state_->timer);
  return pending;
}

struct Ticker::State {
  Chan<TimePoint> ch = make_chan<TimePoint>(1);
  RuntimeTimer timer;
};

Ticker::Ticker(Duration period) : state_(std::make_unique<State>()) { reset(period); }

Ticker::~Ticker() { timer_stop(&state_->timer); }

Chan<TimePoint>& Ticker::c() { return state_->ch; }

void Ticker::stop() { timer_stop(&state_->timer); }

void Ticker::reset(Duration period) {
  int64_t ns = period.count();
  SPINDLE_CHECK(ns > 0, "non-positive interval for Ticker: " + std::to_string(ns) + " ns");
  timer_stop(&state_->timer);
  state_->timer.fn = &send_time;
  state_->timer.arg = &state_->ch;
  state_->timer.period = ns;
  state_->timer.when = now_ns() + ns;
  timer_start(&state_->timer);
}

}  // namespace spindle::runtime
