// Weighted: smooth weighted round-robin, precomputed. Each snapshot carries its cycle (built
// when the snapshot is, Snapshot::build_weighted_cycle); picking is an atomic counter modulo
// the cycle length, so it is exact over every cycle and takes no lock, unlike the classic
// per-pick update of current weights that needs a mutex.
#include <atomic>

#include "lb/picker.h"

namespace spindle::lb {

namespace {

class Weighted final : public Picker {
 public:
  Backend* pick(const Snapshot& snap, const Backend* avoid) override {
    const auto& cycle = snap.weighted_cycle;
    const std::size_t n = snap.backends.size();
    if (cycle.empty()) return snap.backends[next_.fetch_add(1) % n].get();
    std::size_t i = cycle[next_.fetch_add(1, std::memory_order_relaxed) % cycle.size()];
    if (snap.backends[i].get() == avoid && n > 1) i = (i + 1) % n;
    return snap.backends[i].get();
  }

 private:
  alignas(64) std::atomic<std::uint64_t> next_{0};
};

}  // namespace

std::unique_ptr<Picker> make_weighted() { return std::make_unique<Weighted>(); }

}  // namespace spindle::lb
