// Select over the channel core (Go's selectgo; see the "Channels" comment in channel.cc for the
// Waiter protocol and invariants I1-I5 it relies on).
//
//   1. Shuffle the cases with a live channel into a random poll order (fastrandn), and sort
//      their distinct channels by address into the lock order.
//   2. Lock every channel in lock order (one global order: no deadlock between two selects).
//   3. Pass 1: in poll order, try each case without parking (send_locked / recv_locked). The
//      first that completes wins: unlock all, ready the partner it completed, return its index.
//      Random poll order is what makes the choice among ready cases uniform.
//   4. poll() stops here with -1. wait() enqueues one Waiter (is_select) per case on its
//      channel's queue and parks; the unlock function releases the locks in reverse order once
//      the goroutine is switched out, reading nothing of the Select after the last unlock.
//   5. A waker completes at most one Waiter of this goroutine: it must flip g->select_done
//      from 0 to 1 first (WaitQueue::pop_front). It sets g->param to the Waiter and readies g.
//   6. On wake: lock all again, reset select_done, find the case whose Waiter is g->param,
//      unlink the other Waiters (some may already have been dropped by losing wakers), unlock.
//      A closed receive case yields nullopt; a closed send case is fatal.
#include "runtime/select.h"

#include <algorithm>

#include "base/check.h"
#include "runtime/goroutine.h"
#include "runtime/scheduler.h"

namespace spindle::runtime {

using internal::ChanCore;
using internal::SelectCase;
using internal::Waiter;

namespace {

struct LockSet {
  ChanCore** locks;
  int n;
};

void lock_all(const LockSet& set) NO_THREAD_SAFETY_ANALYSIS {
  for (int i = 0; i < set.n; ++i) set.locks[i]->lock();
}

void unlock_all(const LockSet& set) NO_THREAD_SAFETY_ANALYSIS {
  for (int i = set.n; i-- > 0;) set.locks[i]->unlock();
}

// Runs on the scheduler after the selecting goroutine is switched out. Until locks[0] is
// released the goroutine cannot get past lock_all, so its stack (the LockSet) stays valid;
// after that last unlock nothing of it is touched.
bool unlock_all_after_park(Goroutine* /*g*/, void* arg) NO_THREAD_SAFETY_ANALYSIS {
  const LockSet* set = static_cast<const LockSet*>(arg);
  ChanCore** locks = set->locks;
  for (int i = set->n; i-- > 0;) locks[i]->unlock();
  return true;
}

internal::WaitQueue& queue_of(const SelectCase& c) NO_THREAD_SAFETY_ANALYSIS {
  return c.is_send ? c.chan->sendq() : c.chan->recvq();
}

// Step 1: the live cases' indices in random order (inside-out Fisher-Yates); returns how many.
uint32_t shuffle_live_cases(const SelectCase* cs, uint32_t size, uint32_t* order) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < size; ++i) {
    if (cs[i].chan == nullptr) continue;
    uint32_t j = fastrandn(n + 1);
    order[n] = order[j];
    order[j] = i;
    ++n;
  }
  return n;
}

// The distinct channels of the live cases, by address: the one lock order all selects share.
LockSet sorted_locks(const SelectCase* cs, const uint32_t* order, uint32_t n, ChanCore** locks) {
  for (uint32_t k = 0; k < n; ++k) locks[k] = cs[order[k]].chan;
  std::sort(locks, locks + n);
  return LockSet{locks, static_cast<int>(std::unique(locks, locks + n) - locks)};
}

// A chosen case found its channel closed: receives yield nullopt, sends are fatal.
void finish_closed(const SelectCase& c) {
  if (c.is_send) SPINDLE_FATAL("send on closed channel");
  c.ops->reset(c.elem);
}

// Step 3, with every lock held: performs the first case in poll order that can proceed,
// unlocks and returns its index; -1 (still locked) when none can.
int complete_ready_case(const SelectCase* cs, const uint32_t* order, uint32_t n,
                        const LockSet& set) NO_THREAD_SAFETY_ANALYSIS {
  for (uint32_t k = 0; k < n; ++k) {
    const SelectCase& c = cs[order[k]];
    Goroutine* wake = nullptr;
    ChanCore::Step step =
        c.is_send ? c.chan->send_locked(c.elem, &wake) : c.chan->recv_locked(c.elem, &wake);
    if (step == ChanCore::Step::kWouldBlock) continue;
    unlock_all(set);
    if (step == ChanCore::Step::kClosed) finish_closed(c);
    if (wake != nullptr) ready(wake);
    return static_cast<int>(order[k]);
  }
  return -1;
}

// Steps 4-6, entered with every lock held: queue a Waiter per case, park, and on wake unlink
// the losers and return the winner's index.
int park_on_all(Goroutine* self, const SelectCase* cs, const uint32_t* order, uint32_t n,
                Waiter* waiters, LockSet& set) NO_THREAD_SAFETY_ANALYSIS {
  for (uint32_t k = 0; k < n; ++k) {
    uint32_t i = order[k];
    waiters[i] = Waiter{};
    waiters[i].g = self;
    waiters[i].elem = cs[i].elem;
    waiters[i].is_select = true;
    queue_of(cs[i]).push_back(&waiters[i]);
  }
  self->param = nullptr;
  park(WaitReason::kSelect, &unlock_all_after_park, &set);

  lock_all(set);
  self->select_done.store(0, std::memory_order_relaxed);
  const Waiter* won = static_cast<const Waiter*>(self->param);
  self->param = nullptr;
  int winner = -1;
  for (uint32_t k = 0; k < n; ++k) {
    uint32_t i = order[k];
    if (&waiters[i] == won) {
      winner = static_cast<int>(i);
    } else {
      queue_of(cs[i]).remove(&waiters[i]);
    }
  }
  unlock_all(set);
  SPINDLE_CHECK(winner >= 0, "select woken without a winning case");
  if (!won->success) finish_closed(cs[winner]);
  return winner;
}

}  // namespace

Select::~Select() {
  SelectCase* cs = cases();
  for (size_t i = 0; i < size_; ++i) {
    if (!cs[i].is_send) continue;
    cs[i].ops->destroy(cs[i].elem);
    if (cs[i].heap_value) ::operator delete(cs[i].elem, std::align_val_t(cs[i].ops->align));
  }
}

std::pair<void*, bool> Select::value_storage(const internal::ElemOps* ops) {
  size_t offset = (arena_used_ + ops->align - 1) / ops->align * ops->align;
  if (ops->align <= alignof(std::max_align_t) && offset + ops->size <= kArenaBytes) {
    arena_used_ = offset + ops->size;
    return {arena_ + offset, false};
  }
  return {::operator new(ops->size, std::align_val_t(ops->align)), true};
}

int Select::add_recv(ChanCore* chan, void* out, const internal::ElemOps* ops) {
  SPINDLE_CHECK(out != nullptr, "Select::recv needs somewhere to put the value");
  return add(SelectCase{chan, out, ops, /*is_send=*/false, /*heap_value=*/false});
}

int Select::add_send(ChanCore* chan, void* value, bool on_heap, const internal::ElemOps* ops) {
  return add(SelectCase{chan, value, ops, /*is_send=*/true, on_heap});
}

int Select::add(const SelectCase& c) {
  SPINDLE_CHECK(!used_, "Select: case added after wait()/poll()");
  SPINDLE_CHECK(size_ < (1u << 30), "Select: too many cases");
  if (size_ == kInlineCases) more_.assign(inline_cases_, inline_cases_ + kInlineCases);
  if (size_ >= kInlineCases) {
    more_.push_back(c);
  } else {
    inline_cases_[size_] = c;
  }
  return static_cast<int>(size_++);
}

int Select::wait() { return run(/*block=*/true); }

int Select::poll() { return run(/*block=*/false); }

int Select::run(bool block) {
  current(block ? "select" : "select (poll)");
  SPINDLE_CHECK(!used_, "a Select runs once: wait()/poll() called twice");
  used_ = true;
  if (size_ <= kInlineCases) {
    Waiter waiters[kInlineCases];
    uint32_t order[kInlineCases];
    ChanCore* locks[kInlineCases];
    return run_with(block, waiters, order, locks);
  }
  std::vector<Waiter> waiters(size_);
  std::vector<uint32_t> order(size_);
  std::vector<ChanCore*> locks(size_);
  return run_with(block, waiters.data(), order.data(), locks.data());
}

int Select::run_with(bool block, Waiter* waiters, uint32_t* order, ChanCore** locks) {
  Goroutine* self = current("select");
  SelectCase* cs = cases();
  uint32_t n = shuffle_live_cases(cs, static_cast<uint32_t>(size_), order);  // step 1
  if (n == 0) {
    if (!block) return -1;
    park(WaitReason::kSelectNoCases, nullptr, nullptr);
    SPINDLE_FATAL("a goroutine blocked in a select with no cases was readied");
  }
  LockSet set = sorted_locks(cs, order, n, locks);
  lock_all(set);                                        // step 2
  int chosen = complete_ready_case(cs, order, n, set);  // step 3
  if (chosen >= 0 || !block) {
    if (chosen < 0) unlock_all(set);
    return chosen;
  }
  return park_on_all(self, cs, order, n, waiters, set);  // steps 4-6
}

}  // namespace spindle::runtime
