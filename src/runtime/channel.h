// Chan<T>: Go's channels for goroutines. A typed handle over a non-template core (ChanCore) that
// owns the lock, the ring buffer and the queues of parked senders and receivers; select.h builds
// on the same core. Protocol, invariants and rejected designs: the comment at the top of
// channel.cc and docs/runtime.md, "Channels and select".
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "base/spin_lock.h"
#include "base/thread_annotations.h"

namespace spindle::runtime {

struct Goroutine;
enum class WaitReason : uint8_t;
class Select;

namespace internal {

// Element operations of one element type, so the core (and select) can move values of any type
// without templates. `src` always points at a live T; `opt` at a std::optional<T>; `raw` at
// uninitialised storage of size/align.
struct ElemOps {
  size_t size;
  size_t align;
  void (*construct)(void* raw, void* src);  // new (raw) T(std::move(*src))
  void (*emplace)(void* opt, void* src);    // opt->emplace(std::move(*src))
  void (*reset)(void* opt);                 // opt->reset()
  void (*destroy)(void* obj);               // obj->~T()
};

template <typename T>
inline constexpr ElemOps kElemOps = {
    sizeof(T),
    alignof(T),
    [](void* raw, void* src) { new (raw) T(std::move(*static_cast<T*>(src))); },
    [](void* opt, void* src) {
      static_cast<std::optional<T>*>(opt)->emplace(std::move(*static_cast<T*>(src)));
    },
    [](void* opt) { static_cast<std::optional<T>*>(opt)->reset(); },
    [](void* obj) { static_cast<T*>(obj)->~T(); },
};

// A goroutine parked on a channel (Go's sudog). Lives on the parked goroutine's stack; a select
// has one per case. Written by the waker under the channel lock, read by the owner after wake.
struct Waiter {
  Goroutine* g = nullptr;
  // Send: the T to move from. Receive: the std::optional<T> to emplace into.
  void* elem = nullptr;
  Waiter* prev = nullptr;  // links in ChanCore's recvq_ / sendq_
  Waiter* next = nullptr;
  bool is_select = false;  // wakers must win g->select_done before completing it
  bool success = false;    // true: the value was exchanged; false: woken by close()
};

// Intrusive FIFO of waiters (Go's waitq). Guarded by the owning channel's lock.
class WaitQueue {
 public:
  bool empty() const { return first_ == nullptr; }
  void push_back(Waiter* w);
  // Unlinks and returns the oldest waiter that may be completed: select waiters whose goroutine
  // another case already won are dropped on the way. Null when none.
  Waiter* pop_front();
  // Unlinks w if it is still queued (a select cleaning up after its winning case).
  void remove(Waiter* w);
  size_t size() const;

 private:
  Waiter* first_ = nullptr;
  Waiter* last_ = nullptr;
};

// The shared state of one channel ("Channels" at the top of channel.cc: invariants I1-I5 and
// the protocol). Thread-safe; every operation except try_send_from_runtime, len and cap must
// run on a goroutine.
class ChanCore {
 public:
  ChanCore(const ElemOps* ops, size_t capacity);
  ~ChanCore();  // destroys the values still buffered
  ChanCore(const ChanCore&) = delete;
  ChanCore& operator=(const ChanCore&) = delete;

  // Moves *src in; parks until a receiver or buffer slot takes it when `block`. Returns false
  // only when !block and it would block. Fatal on a closed channel.
  bool send(void* src, bool block);
  // send(src, false) for runtime code that runs outside any goroutine (a timer firing into a
  // channel on a scheduler thread). Fatal on a closed channel.
  bool try_send_from_runtime(void* src);
  enum class RecvResult { kValue, kWouldBlock, kClosed };
  // Emplaces a value into *dst (a std::optional<T>), parking when `block`; kClosed leaves *dst
  // untouched.
  RecvResult recv(void* dst, bool block);
  // Fatal when already closed. Wakes every parked receiver (closed) and sender (fatal).
  void close();
  size_t len() const;
  size_t cap() const { return cap_; }
  const ElemOps* ops() const { return ops_; }
  // Parked senders or receivers, including select waiters another case already won.
  size_t waiters_for_test(bool senders) const;

  // The pieces select.cc combines across channels. All require lock().
  void lock() ACQUIRE(lock_) { lock_.lock(); }
  void unlock() RELEASE(lock_) { lock_.unlock(); }
  enum class Step { kDone, kWouldBlock, kClosed };
  // One attempt without parking. kDone may hand back a goroutine to ready(*wake) after unlock.
  Step send_locked(void* src, Goroutine** wake) REQUIRES(lock_);
  Step recv_locked(void* dst, Goroutine** wake) REQUIRES(lock_);
  WaitQueue& sendq() REQUIRES(lock_) { return sendq_; }
  WaitQueue& recvq() REQUIRES(lock_) { return recvq_; }

 private:
  // self is the calling goroutine; null only when !block.
  bool send_as(Goroutine* self, void* src, bool block);
  static bool unlock_after_park(Goroutine* g, void* chan);
  // Queues the caller on q with a Waiter for elem, parks, and releases lock_ once it is
  // switched out. Returns the Waiter's success (false: woken by close()).
  bool park_on(WaitQueue& q, Goroutine* self, void* elem, WaitReason reason) RELEASE(lock_);
  void* slot(size_t i) const { return buf_ + i * ops_->size; }
  void advance(size_t& index) const { index = index + 1 == cap_ ? 0 : index + 1; }

  const ElemOps* const ops_;
  const size_t cap_;
  unsigned char* const buf_;  // cap_ slots of ops_->size bytes; null when unbuffered
  mutable base::SpinLock lock_;
  size_t count_ GUARDED_BY(lock_) = 0;  // buffered values
  size_t sendx_ GUARDED_BY(lock_) = 0;  // next slot to fill
  size_t recvx_ GUARDED_BY(lock_) = 0;  // next slot to drain
  bool closed_ GUARDED_BY(lock_) = false;
  WaitQueue recvq_ GUARDED_BY(lock_);
  WaitQueue sendq_ GUARDED_BY(lock_);
};

// Parks the calling goroutine forever: an operation on a nil channel (Go blocks the same way).
[[noreturn]] void park_forever(const char* what, bool send);
// Fatal "close of nil channel".
[[noreturn]] void close_nil();
// Fatal unless the caller is a goroutine; `what` names the operation in the message.
void check_goroutine(const char* what);

}  // namespace internal

// Result of Chan<T>::try_recv: a value, "would block" (nothing ready), or "closed and drained".
template <typename T>
class TryRecv {
 public:
  enum class Status { kValue, kWouldBlock, kClosed };
  TryRecv(Status status, std::optional<T> value) : status_(status), value_(std::move(value)) {}

  Status status() const { return status_; }
  bool has_value() const { return status_ == Status::kValue; }
  bool would_block() const { return status_ == Status::kWouldBlock; }
  bool closed() const { return status_ == Status::kClosed; }
  explicit operator bool() const { return has_value(); }
  // Only when has_value().
  T& value() & { return *value_; }
  T&& value() && { return std::move(*value_); }
  T& operator*() & { return *value_; }
  T* operator->() { return &*value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

template <typename T>
class Chan;
// A new channel with room for `capacity` buffered values (0: unbuffered, a rendezvous).
template <typename T>
Chan<T> make_chan(size_t capacity = 0);

// A channel handle: copies share one channel, like Go's channel references. A default-constructed
// Chan is the nil channel: send and recv park forever, close is fatal, select never picks it.
// Every operation except len/cap/comparison must be called from a goroutine (fatal otherwise).
// T may be move-only and need not be default-constructible.
template <typename T>
class Chan {
 public:
  Chan() = default;

  // Parks until a receiver or a buffer slot takes v. Fatal: "send on closed channel".
  void send(T v) {
    if (!core_) internal::park_forever("chan send (nil chan)", /*send=*/true);
    core_->send(&v, /*block=*/true);
  }
  // Parks until a value arrives; nullopt once the channel is closed and drained.
  std::optional<T> recv() {
    std::optional<T> out;
    if (!core_) internal::park_forever("chan receive (nil chan)", /*send=*/false);
    core_->recv(&out, /*block=*/true);
    return out;
  }
  // Fatal: "close of closed channel", "close of nil channel".
  void close() {
    if (!core_) internal::close_nil();
    core_->close();
  }
  // Sends without parking; false (v untouched) if it would block. Fatal on a closed channel.
  bool try_send(T&& v) {
    if (!core_) {
      internal::check_goroutine("chan try_send");
      return false;
    }
    return core_->send(&v, /*block=*/false);
  }
  bool try_send(const T& v) {
    T copy(v);
    return try_send(std::move(copy));
  }
  // try_send for runtime internals that run outside any goroutine (timers firing on a
  // scheduler thread, the netpoller); user code calls try_send. Fatal on a closed channel.
  bool try_send_from_runtime(T&& v) { return core_ && core_->try_send_from_runtime(&v); }
  // Receives without parking.
  TryRecv<T> try_recv() {
    using Status = typename TryRecv<T>::Status;
    std::optional<T> out;
    if (!core_) {
      internal::check_goroutine("chan try_recv");
      return TryRecv<T>(Status::kWouldBlock, std::nullopt);
    }
    switch (core_->recv(&out, /*block=*/false)) {
      case internal::ChanCore::RecvResult::kValue:
        return TryRecv<T>(Status::kValue, std::move(out));
      case internal::ChanCore::RecvResult::kWouldBlock:
        return TryRecv<T>(Status::kWouldBlock, std::nullopt);
      case internal::ChanCore::RecvResult::kClosed:
        break;
    }
    return TryRecv<T>(Status::kClosed, std::nullopt);
  }

  // Buffered values (a snapshot) and capacity; 0 for the nil channel.
  size_t len() const { return core_ ? core_->len() : 0; }
  size_t cap() const { return core_ ? core_->cap() : 0; }

  bool is_nil() const { return core_ == nullptr; }
  // Goroutines parked sending / receiving: lets tests wait until a partner is parked.
  size_t send_waiters_for_test() const { return core_ ? core_->waiters_for_test(true) : 0; }
  size_t recv_waiters_for_test() const { return core_ ? core_->waiters_for_test(false) : 0; }
  friend bool operator==(const Chan& a, const Chan& b) { return a.core_ == b.core_; }

 private:
  template <typename U>
  friend Chan<U> make_chan(size_t capacity);
  friend class Select;
  explicit Chan(std::shared_ptr<internal::ChanCore> core) : core_(std::move(core)) {}

  std::shared_ptr<internal::ChanCore> core_;
};

template <typename T>
Chan<T> make_chan(size_t capacity) {
  static_assert(std::is_move_constructible_v<T>, "channel elements must be movable");
  return Chan<T>(std::make_shared<internal::ChanCore>(&internal::kElemOps<T>, capacity));
}

}  // namespace spindle::runtime
