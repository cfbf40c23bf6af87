// Select: Go's select statement over any number of send and receive cases of any element types,
// blocking (wait) or with a default (poll). Built on the channel core of channel.h; the protocol
// is described in select.cc and docs/runtime.md, "Channels and select".
//
//   Select s;                       // on the goroutine's stack, used once
//   std::optional<Request> req;
//   int got = s.recv(requests, &req);
//   int sent = s.send(replies, reply);
//   int i = s.wait();               // or s.poll(): -1 when no case is ready (default)
//   if (i == got) { if (!req) { /* requests closed */ } }
//
// Or closure style, closer to Go's syntax (see select() at the end):
//
//   select(on_recv(requests, [&](std::optional<Request> req) { ... }),
//          on_send(replies, reply, [&] { ... }),
//          on_default([&] { ... }));  // optional
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "runtime/channel.h"

namespace spindle::runtime {

namespace internal {

// One case as select.cc sees it: trivially copyable.
struct SelectCase {
  ChanCore* chan = nullptr;  // null: a nil channel, never ready
  void* elem = nullptr;      // send: the T held by the Select; receive: the std::optional<T>
  const ElemOps* ops = nullptr;
  bool is_send = false;
  bool heap_value = false;  // a send value too big for the Select's inline arena
};

}  // namespace internal

// Only the goroutine that declared it may use a Select, and only once: add cases, then call
// wait() or poll() one time. Channels passed in must outlive that call (temporaries are
// rejected at compile time). Case indices count from 0 in the order cases were added.
class Select {
 public:
  Select() = default;
  ~Select();  // destroys the send values no case consumed
  Select(const Select&) = delete;
  Select& operator=(const Select&) = delete;

  // Adds a receive case. When it is chosen, *out holds the value, or nullopt if ch is closed
  // and drained. *out is untouched when another case is chosen.
  template <typename T>
  int recv(const Chan<T>& ch, std::optional<T>* out) {
    return add_recv(ch.core_.get(), out, &internal::kElemOps<T>);
  }
  template <typename T>
  int recv(const Chan<T>&& ch, std::optional<T>* out) = delete;

  // Adds a send case; the Select holds `value` until the case is chosen (then it is moved into
  // the channel) or the Select is destroyed. Choosing a send on a closed channel is fatal.
  template <typename T>
  int send(const Chan<T>& ch, std::type_identity_t<T> value) {
    const internal::ElemOps* ops = &internal::kElemOps<T>;
    auto [storage, on_heap] = value_storage(ops);
    new (storage) T(std::move(value));
    return add_send(ch.core_.get(), storage, on_heap, ops);
  }
  template <typename T>
  int send(const Chan<T>&& ch, std::type_identity_t<T> value) = delete;

  // Parks until one case can proceed, performs it and returns its index. Ready cases are chosen
  // uniformly at random. With no cases, or only nil channels, parks forever (Go's `select {}`).
  int wait();
  // Like wait() with a default case: -1 at once when no case is ready.
  int poll();

  size_t size() const { return size_; }

 private:
  static constexpr int kInlineCases = 8;
  static constexpr size_t kArenaBytes = 128;

  int add_recv(internal::ChanCore* chan, void* out, const internal::ElemOps* ops);
  int add_send(internal::ChanCore* chan, void* value, bool on_heap, const internal::ElemOps* ops);
  int add(const internal::SelectCase& c);
  std::pair<void*, bool> value_storage(const internal::ElemOps* ops);
  internal::SelectCase* cases() { return size_ <= kInlineCases ? inline_cases_ : more_.data(); }
  int run(bool block);
  int run_with(bool block, internal::Waiter* waiters, uint32_t* order, internal::ChanCore** locks);

  internal::SelectCase inline_cases_[kInlineCases];
  std::vector<internal::SelectCase> more_;  // all cases, once there are more than kInlineCases
  size_t size_ = 0;
  size_t arena_used_ = 0;
  bool used_ = false;
  alignas(std::max_align_t) unsigned char arena_[kArenaBytes];
};

// Closure-style select. Each case runs its function when chosen: on_recv's gets the
// std::optional<T> (nullopt: closed), on_send's and on_default's take no argument.
template <typename T, typename F>
struct OnRecv {
  const Chan<T>& ch;
  F fn;
};
template <typename T, typename F>
struct OnSend {
  const Chan<T>& ch;
  T value;
  F fn;
};
template <typename F>
struct OnDefault {
  F fn;
};

template <typename T, typename F>
OnRecv<T, F> on_recv(const Chan<T>& ch, F fn) {
  return {ch, std::move(fn)};
}
template <typename T, typename F>
OnSend<T, F> on_send(const Chan<T>& ch, std::type_identity_t<T> value, F fn) {
  return {ch, std::move(value), std::move(fn)};
}
template <typename F>
OnDefault<F> on_default(F fn) {
  return {std::move(fn)};
}

namespace internal {

struct NoSlot {};
template <typename C>
struct CaseSlot {
  using type = NoSlot;
};
template <typename T, typename F>
struct CaseSlot<OnRecv<T, F>> {
  using type = std::optional<T>;
};
template <typename C>
inline constexpr bool kIsDefault = false;
template <typename F>
inline constexpr bool kIsDefault<OnDefault<F>> = true;
template <typename C>
inline constexpr bool kIsSend = false;
template <typename T, typename F>
inline constexpr bool kIsSend<OnSend<T, F>> = true;

// Registers one case with s; -1 for the default case.
template <typename C, typename Slot>
int add_case(Select& s, C& c, Slot& slot) {
  if constexpr (kIsDefault<C>) {
    return -1;
  } else if constexpr (kIsSend<C>) {
    return s.send(c.ch, std::move(c.value));
  } else {
    return s.recv(c.ch, &slot);
  }
}

template <typename C, typename Slot>
void run_case(C& c, Slot& slot) {
  if constexpr (std::is_same_v<Slot, NoSlot>) {
    c.fn();
  } else {
    c.fn(std::move(slot));
  }
}

}  // namespace internal

// Go's select statement: parks until one case can proceed (or, with an on_default case, takes
// the default when none can), runs that case's function and returns the case's position among
// the arguments. Ready cases are chosen uniformly at random. Must run on a goroutine.
template <typename... Cases>
int select(Cases&&... cases) {
  constexpr int kDefaults = (0 + ... + int{internal::kIsDefault<std::decay_t<Cases>>});
  static_assert(kDefaults <= 1, "select: at most one on_default case");
  Select s;
  std::tuple<typename internal::CaseSlot<std::decay_t<Cases>>::type...> slots;
  std::array<int, sizeof...(Cases)> ids{};
  return [&]<size_t... I>(std::index_sequence<I...>) {
    ((ids[I] = internal::add_case(s, cases, std::get<I>(slots))), ...);
    int chosen = kDefaults > 0 ? s.poll() : s.wait();
    int position = -1;
    auto dispatch = [&]<size_t J>(auto& c) {
      bool hit = chosen >= 0 ? ids[J] == chosen : internal::kIsDefault<std::decay_t<decltype(c)>>;
      if (position < 0 && hit) {
        internal::run_case(c, std::get<J>(slots));
        position = static_cast<int>(J);
      }
    };
    (dispatch.template operator()<I>(cases), ...);
    return position;
  }
  (std::index_sequence_for<Cases...>{});
}

}  // namespace spindle::runtime
