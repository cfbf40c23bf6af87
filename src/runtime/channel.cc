// Channels
//
// What. A channel is a ChanCore shared by Chan<T> handles: one lock (a SpinLock), a ring
// buffer of cap_ slots, and two FIFO queues of parked goroutines, recvq_ (waiting for a value)
// and sendq_ (waiting to hand one over). Element types are erased behind an ElemOps table
// (move-construct, emplace into std::optional<T>, reset, destroy), so the core and select
// (select.cc) are compiled once and one select can mix channels of different types. Go's
// src/runtime/chan.go is the model; the code here is our own. docs/runtime.md, "Channels and
// select", has the user's view.
//
// Vocabulary. A Waiter (Go's sudog) records one parked operation: the goroutine, a pointer to
// its value (send: the T to move from; receive: the std::optional<T> to fill), and a success
// flag. It lives on the parked goroutine's own stack, so parking allocates nothing. A select
// parks with one Waiter per case, all marked is_select. Hand-off: a party that finds a parked
// partner completes the partner's operation itself (moves the value directly between the two
// stacks), sets g->param to the partner's Waiter and readies it; the woken goroutine never
// retries.
//
// Invariants (all under the channel lock).
//   I1. recvq_ non-empty  => count_ == 0 (and no sender is parked): a value never waits in the
//       buffer while a receiver sleeps.
//   I2. sendq_ non-empty  => count_ == cap_ (for cap_ == 0: the rendezvous has no receiver).
//   I3. closed_           => sendq_ and recvq_ are empty (close() drains both, and nobody
//       queues on a closed channel: send fails fatally, receive returns "closed").
//   I4. A queued Waiter's goroutine is parked, or is about to be: it enqueued under the lock,
//       and the lock is released only after it has been switched out (step 3 below).
//   I5. A select goroutine is completed by at most one of its Waiters: the first party to
//       flip g->select_done from 0 to 1 (under its own channel's lock) owns the wake-up; the
//       others drop that goroutine's Waiters from their queues when they meet them.
//
// Protocol for one operation (send shown; receive is symmetric):
//   1. Lock the channel. If closed: unlock, fatal "send on closed channel".
//   2. Try to complete without parking: pop the first receiver that may be completed (skipping
//      select receivers whose select_done was already won, I5) and move the value straight
//      into its std::optional (the direct hand-off of Go's sudog elem copy); else put the value
//      into a free buffer slot. A completed partner gets success = true and g->param = its
//      Waiter, and is ready()'d after the lock is released. Done.
//   3. Otherwise (and blocking) push a Waiter for the calling goroutine onto sendq_ and park
//      with an unlock function: the scheduler releases the channel lock only after this
//      goroutine has been switched out, so no waker can ready it while it still runs (I4).
//   4. The waker (a receiver in its step 2, or close()) completes the Waiter under the lock and
//      readies the goroutine. On wake the goroutine reads success: true means its value was
//      taken; false means the channel was closed (senders die with the fatal error, receivers
//      return "closed").
//   A receiver that finds a parked sender on a full buffered channel takes the oldest buffered
//   value and moves the sender's value into the slot it freed, so FIFO order is kept.
//   close(): lock, fatal if already closed, set closed_, unlink every waiter (success = false),
//   unlock, then ready them all.
//
// Rejected alternatives.
//   - Lock-free channels (e.g. a Vyukov MPMC ring plus a parking lot): fast for buffered
//     send/receive, but select across several channels and close() then need a second protocol
//     to agree on who wins; a short per-channel lock held for a few pointer updates keeps
//     one simple protocol for all three. The lock is never held across a park.
//   - Condition-variable style wake-ups (wake the waiter and let it retry): a woken goroutine
//     can lose the race and sleep again (a thundering herd under fan-in), and FIFO fairness is
//     lost. Direct hand-off completes the operation on the waiter's behalf.
//   - Heap-allocated waiters: an allocation per park. Waiters on the parked stack cost nothing
//     and are valid exactly as long as the goroutine is parked.
//   - A typed (template) core: select could not mix element types without a virtual layer,
//     and every element type would instantiate the whole protocol.
#include "runtime/channel.h"

#include <limits>

#include "base/check.h"
#include "runtime/goroutine.h"
#include "runtime/scheduler.h"

namespace spindle::runtime::internal {

void WaitQueue::push_back(Waiter* w) {
  w->next = nullptr;
  w->prev = last_;
  if (last_ != nullptr) {
    last_->next = w;
  } else {
    first_ = w;
  }
  last_ = w;
}

Waiter* WaitQueue::pop_front() {
  while (Waiter* w = first_) {
    first_ = w->next;
    if (first_ != nullptr) {
      first_->prev = nullptr;
    } else {
      last_ = nullptr;
    }
    w->next = nullptr;
    if (w->is_select) {
      uint32_t expected = 0;
      if (!w->g->select_done.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
        continue;  // another case of that select won; its goroutine removes the rest
      }
    }
    return w;
  }
  return nullptr;
}

void WaitQueue::remove(Waiter* w) {
  if (w->prev != nullptr) {
    w->prev->next = w->next;
  } else if (first_ == w) {
    first_ = w->next;
  } else {
    return;  // already unlinked by pop_front
  }
  if (w->next != nullptr) {
    w->next->prev = w->prev;
  } else {
    last_ = w->prev;
  }
  w->prev = nullptr;
  w->next = nullptr;
}

size_t WaitQueue::size() const {
  size_t n = 0;
  for (const Waiter* w = first_; w != nullptr; w = w->next) ++n;
  return n;
}

namespace {

unsigned char* allocate_buffer(const ElemOps* ops, size_t capacity) {
  if (capacity == 0) return nullptr;
  SPINDLE_CHECK(capacity <= std::numeric_limits<size_t>::max() / 2 / ops->size,
                "make_chan: capacity out of range");
  return static_cast<unsigned char*>(
      ::operator new(capacity * ops->size, std::align_val_t(ops->align)));
}

// Marks w completed (by a value, or by close when !success) and returns its goroutine, to be
// readied once the channel lock is released.
Goroutine* complete(Waiter* w, bool success) {
  w->success = success;
  w->g->param = w;
  return w->g;
}

}  // namespace

ChanCore::ChanCore(const ElemOps* ops, size_t capacity)
    : ops_(ops), cap_(capacity), buf_(allocate_buffer(ops, capacity)) {}

ChanCore::~ChanCore() {
  base::SpinLockGuard guard(lock_);
  SPINDLE_DCHECK(recvq_.empty() && sendq_.empty(), "channel destroyed with parked goroutines");
  for (; count_ > 0; --count_) {
    ops_->destroy(slot(recvx_));
    advance(recvx_);
  }
  if (buf_ != nullptr) ::operator delete(buf_, std::align_val_t(ops_->align));
}

ChanCore::Step ChanCore::send_locked(void* src, Goroutine** wake) {
  if (closed_) return Step::kClosed;
  if (Waiter* w = recvq_.pop_front()) {
    ops_->emplace(w->elem, src);
    *wake = complete(w, true);
    return Step::kDone;
  }
  if (count_ < cap_) {
    ops_->construct(slot(sendx_), src);
    advance(sendx_);
    ++count_;
    return Step::kDone;
  }
  return Step::kWouldBlock;
}

ChanCore::Step ChanCore::recv_locked(void* dst, Goroutine** wake) {
  if (Waiter* w = sendq_.pop_front()) {
    if (cap_ == 0) {
      ops_->emplace(dst, w->elem);
    } else {
      // Full buffer (I2): take the oldest value, the sender's value takes its slot.
      void* s = slot(recvx_);
      ops_->emplace(dst, s);
      ops_->destroy(s);
      ops_->construct(s, w->elem);
      advance(recvx_);
      sendx_ = recvx_;
    }
    *wake = complete(w, true);
    return Step::kDone;
  }
  if (count_ > 0) {
    void* s = slot(recvx_);
    ops_->emplace(dst, s);
    ops_->destroy(s);
    advance(recvx_);
    --count_;
    return Step::kDone;
  }
  return closed_ ? Step::kClosed : Step::kWouldBlock;
}

bool ChanCore::unlock_after_park(Goroutine* /*g*/, void* chan) NO_THREAD_SAFETY_ANALYSIS {
  // Touch nothing after the unlock: the goroutine may already be running again.
  static_cast<ChanCore*>(chan)->lock_.unlock();
  return true;
}

bool ChanCore::park_on(WaitQueue& q, Goroutine* self, void* elem,
                       WaitReason reason) NO_THREAD_SAFETY_ANALYSIS {
  Waiter w;
  w.g = self;
  w.elem = elem;
  q.push_back(&w);
  self->param = nullptr;
  park(reason, &ChanCore::unlock_after_park, this);  // step 3; released after the switch
  SPINDLE_DCHECK(self->param == &w, "woken by someone else's wait entry");
  self->param = nullptr;
  return w.success;
}

bool ChanCore::send(void* src, bool block) {
  return send_as(current(block ? "chan send" : "chan try_send"), src, block);
}

bool ChanCore::try_send_from_runtime(void* src) { return send_as(nullptr, src, false); }

bool ChanCore::send_as(Goroutine* self, void* src, bool block) {
  Goroutine* wake = nullptr;
  lock_.lock();
  switch (send_locked(src, &wake)) {
    case Step::kDone:
      lock_.unlock();
      if (wake != nullptr) ready(wake);
      return true;
    case Step::kClosed:
      lock_.unlock();
      SPINDLE_FATAL("send on closed channel");
    case Step::kWouldBlock:
      break;
  }
  if (!block) {
    lock_.unlock();
    return false;
  }
  if (!park_on(sendq_, self, src, WaitReason::kChanSend)) {
    SPINDLE_FATAL("send on closed channel");
  }
  return true;
}

ChanCore::RecvResult ChanCore::recv(void* dst, bool block) {
  Goroutine* self = current(block ? "chan receive" : "chan try_recv");
  Goroutine* wake = nullptr;
  lock_.lock();
  switch (recv_locked(dst, &wake)) {
    case Step::kDone:
      lock_.unlock();
      if (wake != nullptr) ready(wake);
      return RecvResult::kValue;
    case Step::kClosed:
      lock_.unlock();
      return RecvResult::kClosed;
    case Step::kWouldBlock:
      break;
  }
  if (!block) {
    lock_.unlock();
    return RecvResult::kWouldBlock;
  }
  bool success = park_on(recvq_, self, dst, WaitReason::kChanReceive);
  return success ? RecvResult::kValue : RecvResult::kClosed;
}

void ChanCore::close() {
  current("close");
  lock_.lock();
  if (closed_) {
    lock_.unlock();
    SPINDLE_FATAL("close of closed channel");
  }
  closed_ = true;
  // Collect everyone first (chained through the now unused `next`), ready them after unlock.
  Waiter* woken = nullptr;
  for (WaitQueue* q : {&recvq_, &sendq_}) {
    while (Waiter* w = q->pop_front()) {
      complete(w, false);
      w->next = woken;
      woken = w;
    }
  }
  lock_.unlock();
  while (woken != nullptr) {
    Goroutine* g = woken->g;
    woken = woken->next;  // read before ready(g): w is on g's stack
    ready(g);
  }
}

size_t ChanCore::len() const {
  base::SpinLockGuard guard(lock_);
  return count_;
}

size_t ChanCore::waiters_for_test(bool senders) const {
  base::SpinLockGuard guard(lock_);
  return senders ? sendq_.size() : recvq_.size();
}

void park_forever(const char* what, bool send) {
  current(what);
  park(send ? WaitReason::kChanSendNilChan : WaitReason::kChanReceiveNilChan, nullptr, nullptr);
  SPINDLE_FATAL("a goroutine parked on a nil channel was readied");
}

void close_nil() {
  current("close");
  SPINDLE_FATAL("close of nil channel");
}

void check_goroutine(const char* what) { current(what); }

}  // namespace spindle::runtime::internal
