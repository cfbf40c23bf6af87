// Power of two choices on EWMA latency (Finagle's and Linkerd's "P2C + peak EWMA", simplified):
// two distinct backends chosen at random; the one with the lower latency × (in flight + 1)
// wins. Random choice needs no shared state; the product prefers a fast backend but sends
// less to it as its queue grows. A backend without a latency sample yet scores as 1 ns, so new
// backends are tried first.
#include <atomic>

#include "lb/picker.h"

namespace spindle::lb {

namespace {

// A per-picker xorshift state advanced atomically (races lose a step, harmlessly).
class P2cEwma final : public Picker {
 public:
  Backend* pick(const Snapshot& snap, const Backend* avoid) override {
    const std::size_t n = snap.backends.size();
    if (n == 1) return snap.backends[0].get();
    std::uint64_t r = random();
    std::size_t a = r % n;
    std::size_t b = (a + 1 + (r >> 32) % (n - 1)) % n;  // distinct from a
    Backend* x = snap.backends[a].get();
    Backend* y = snap.backends[b].get();
    if (x == avoid) return y;
    if (y == avoid) return x;
    return score(*y) < score(*x) ? y : x;
  }

 private:
  static std::uint64_t score(const Backend& b) {
    std::uint64_t lat = b.ewma_ns.load(std::memory_order_relaxed);
    std::uint64_t load = static_cast<std::uint64_t>(b.in_flight.load(std::memory_order_relaxed));
    return (lat + 1) * (load + 1);
  }
  std::uint64_t random() {
    std::uint64_t x = state_.load(std::memory_order_relaxed);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    state_.store(x, std::memory_order_relaxed);
    return x * 0x2545F4914F6CDD1DULL;
  }
  alignas(64) std::atomic<std::uint64_t> state_{0x9E3779B97F4A7C15ULL};
};

}  // namespace

std::unique_ptr<Picker> make_p2c_ewma() { return std::make_unique<P2cEwma>(); }

}  // namespace spindle::lb
