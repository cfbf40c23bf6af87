// The execution tracer (Go's runtime/trace): scheduler events recorded into per-thread ring
// buffers while a trace runs, drained by one collector. The hooks below sit at the
// scheduler's seams (docs/runtime.md, "Where things are"); debug/trace_json.h turns a Trace
// into Chrome trace-event JSON for Perfetto and chrome://tracing.
//
// Cost when no trace runs: each hook is one relaxed load of `enabled` and a predicted branch.
// No read-modify-write, no fence, no store.
//
// Recording. Each thread that records (every M, sysmon, a thread outside the runtime that
// readies a goroutine) owns one ring, a single-producer single-consumer ring of kRingSize
// events; only that thread writes it. Per thread rather than per P because a P changes hands
// under a running M (sysmon takes it from a blocking call while the M keeps running and
// recording): a per-P ring would have two writers. Each event names its M and P, so the JSON
// still has a timeline per P.
//
// The ring protocol (positions count up forever; slot = position % kRingSize):
//   1. The owner writes slot `written`, then stores written + 1 with release.
//   2. The collector loads `written` with acquire (pairs with 1: the slots below it are
//      complete), copies slots [read, written), then stores read = written with release.
//   3. Before reusing a slot the owner checks written - read < kRingSize, loading `read` with
//      acquire (pairs with 2's release: the collector is done copying the old contents). A
//      full ring drops the event and counts it (owner-only counter, plain load + store).
//   4. Start: under the registry lock the collector sets every ring's read = written
//      (discarding leftovers) and then stores `enabled` = true with release; a hook that sees
//      true issues an acquire fence before touching its ring (pairs with that release, so it
//      sees its ring's new `read`). Stop: `enabled` = false, then a last drain. A hook that
//      loaded true just before the stop may write after the last drain: that event is lost
//      (never copied, not counted) and, being older than the next trace's start, is filtered
//      out by timestamp then. No thread is stopped, and the recording path takes no lock except
//      at a thread's first event, which registers its ring.
// Rings are allocated when a thread first records during a trace and never freed (a thread
// that exits returns its ring for the next new thread), so memory is kRingSize * 32 bytes per
// thread that recorded at once, plus the collector's copy, capped at Session's max_events;
// beyond the cap events are dropped and counted too.
//
// Rejected: per-P rings (two writers, above); one shared ring with an atomic index (an RMW per
// event on a contended line); stopping the world to collect (the point is to watch a running
// program).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/goroutine.h"

namespace spindle::runtime::trace {

enum class EventType : uint8_t {
  kGoCreate,       // g created by goroutine `arg` (0: outside any goroutine)
  kGoStart,        // g starts running on this M and P
  kGoStop,         // g switched back to the scheduler; detail: StopWhy, arg: WaitReason
  kGoUnpark,       // g made runnable by goroutine `arg` (0: the runtime: timer, poller)
  kSteal,          // this M's P stole from P `arg`
  kNetpoll,        // a poll readied `arg` goroutines
  kBlockingEnter,  // g entered a blocking call
  kBlockingExit,   // g left it; detail: BlockingExit
  kPHandoff,       // P `arg` handed to another M or the idle list (Idle::hand_off_p)
  kRetake,         // sysmon took P `arg`; detail 0: from a blocking call, 1: from a long runner
  kSpinStart,      // this M started spinning (looking for work to steal)
  kSpinStop,       // and stopped
  kMStop,          // this M sleeps; detail 0: parked on its note, 1: blocked in the poller
  kMWake,          // this M woke up; detail as kMStop
};

// Why a goroutine stopped running: Machine's AfterSwitch, value for value (checked there).
enum class StopWhy : uint8_t { kNone, kPark, kYield, kExit, kBlockingNoP };
enum class BlockingExit : uint8_t { kKeptP, kOtherP, kNoP };

struct Event {
  int64_t ts;    // now_ns()
  uint64_t g;    // goroutine id, 0 if none
  uint64_t arg;  // per type, above
  int16_t tid;   // the recording thread: M id, or -1 - ring index for threads without an M
  int16_t p;     // the recording M's P id, -1 if none
  EventType type;
  uint8_t detail;  // per type, above
};
static_assert(sizeof(Event) == 32, "events are 32 bytes");

// Whether a trace runs. Hooks load it relaxed; see step 4 above.
inline std::atomic<bool> enabled{false};

// The slow path of every hook: records one event for the calling thread.
void record(EventType type, uint64_t g, uint64_t arg, uint8_t detail = 0);

// Names the calling thread's timeline in traces ("sysmon"). Threads of Ms are named "M<id>".
void set_thread_name(const char* name);

// The hooks. Each is called at one seam of the scheduler, on the thread the event happens on.
inline bool on() { return enabled.load(std::memory_order_relaxed); }
// Records `type` for g with arg = the id of the goroutine running on this thread (0 if none).
void record_by_current(EventType type, const Goroutine* g);
inline void go_create(const Goroutine* g) {
  if (on()) [[unlikely]]
    record_by_current(EventType::kGoCreate, g);
}
inline void go_start(const Goroutine* g) {
  if (on()) [[unlikely]]
    record(EventType::kGoStart, g->id, 0);
}
// `why`: the StopWhy (Machine::after's value).
inline void go_stop(const Goroutine* g, uint8_t why) {
  if (on()) [[unlikely]] {
    record(EventType::kGoStop, g->id, static_cast<uint64_t>(g->wait_reason), why);
  }
}
inline void go_unpark(const Goroutine* g) {
  if (on()) [[unlikely]]
    record_by_current(EventType::kGoUnpark, g);
}
inline void event(EventType type, uint64_t arg, uint8_t detail = 0) {
  if (on()) [[unlikely]]
    record(type, 0, arg, detail);
}
inline void goroutine_event(EventType type, const Goroutine* g, uint8_t detail = 0) {
  if (on()) [[unlikely]]
    record(type, g->id, 0, detail);
}

// What a trace collected, in no particular order (sort by ts).
struct Trace {
  std::vector<Event> events;
  uint64_t dropped = 0;  // full rings and the collector's cap
  int64_t start_ns = 0;  // now_ns() at start and stop
  int64_t end_ns = 0;
  int procs = 0;  // Ps of the running Runtime, 0 if none
  struct Thread {
    int16_t tid;
    std::string name;
  };
  std::vector<Thread> threads;  // names of the tids without an M
};

// One trace at a time per process. Any thread; drain and stop from the thread that started it.
class Session {
 public:
  static constexpr size_t kDefaultMaxEvents = 500'000;
  // Starts recording, or null when another Session runs.
  static std::unique_ptr<Session> start(size_t max_events = kDefaultMaxEvents);
  ~Session();  // stops if stop() was not called
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Copies what the rings hold now; call often enough (every ~10 ms) that rings do not fill.
  void drain();
  // Stops recording, drains a last time and returns everything collected.
  Trace stop();

 private:
  explicit Session(size_t max_events);
  size_t max_events_;
  bool stopped_ = false;
  Trace trace_;
  std::vector<uint64_t> seen_dropped_;  // each ring's drop count at start (by ring index)
};

// Ring size, events per recording thread.
inline constexpr uint32_t kRingSize = 1u << 15;

}  // namespace spindle::runtime::trace
