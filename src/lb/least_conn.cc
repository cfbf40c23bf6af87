// Least connections: a scan for the smallest in_flight, starting at a rotating offset so that
// ties (an idle pool, equal load) are broken round-robin instead of always by the first.
#include <atomic>
#include <limits>

#include "lb/picker.h"

namespace spindle::lb {

namespace {

class LeastConn final : public Picker {
 public:
  Backend* pick(const Snapshot& snap, const Backend* avoid) override {
    const std::size_t n = snap.backends.size();
    const std::size_t start = next_.fetch_add(1, std::memory_order_relaxed) % n;
    Backend* best = nullptr;
    std::int64_t best_load = std::numeric_limits<std::int64_t>::max();
    for (std::size_t k = 0; k < n; ++k) {
      Backend* b = snap.backends[(start + k) % n].get();
      if (b == avoid && n > 1) continue;
      std::int64_t load = b->in_flight.load(std::memory_order_relaxed);
      if (load < best_load) {
        best = b;
        best_load = load;
      }
    }
    return best;
  }

 private:
  alignas(64) std::atomic<std::uint64_t> next_{0};
};

}  // namespace

std::unique_ptr<Picker> make_least_conn() { return std::make_unique<LeastConn>(); }

}  // namespace spindle::lb
