// Round-robin: one atomic counter, taken modulo the size of the snapshot in use. Over any run
// of n×k requests against an unchanged set of n backends each gets exactly k.
#include <atomic>

#include "lb/picker.h"

namespace spindle::lb {

namespace {

class RoundRobin final : public Picker {
 public:
  Backend* pick(const Snapshot& snap, const Backend* avoid) override {
    const std::size_t n = snap.backends.size();
    std::size_t i = next_.fetch_add(1, std::memory_order_relaxed) % n;
    if (snap.backends[i].get() == avoid && n > 1) i = (i + 1) % n;
    return snap.backends[i].get();
  }

 private:
  alignas(64) std::atomic<std::uint64_t> next_{0};
};

}  // namespace

std::unique_ptr<Picker> make_round_robin() { return std::make_unique<RoundRobin>(); }

}  // namespace spindle::lb
