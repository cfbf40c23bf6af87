#include "lb/snapshot.h"

#include <numeric>
#include <thread>

namespace spindle::lb {

void Snapshot::build_weighted_cycle() {
  weighted_cycle.clear();
  if (backends.empty()) return;
  int g = 0;
  for (const auto& b : backends) g = std::gcd(g, b->weight);
  std::vector<std::int64_t> current(backends.size(), 0);
  std::int64_t total = 0;
  for (const auto& b : backends) total += b->weight / g;
  weighted_cycle.reserve(static_cast<std::size_t>(total));
  // Smooth weighted round-robin (the nginx order): every step each backend gains its weight,
  // the largest is chosen and pays back the total. Over `total` steps each backend is chosen
  // exactly weight/g times, spread out rather than in runs.
  for (std::int64_t step = 0; step < total; ++step) {
    std::size_t best = 0;
    for (std::size_t i = 0; i < backends.size(); ++i) {
      current[i] += backends[i]->weight / g;
      if (current[i] > current[best]) best = i;
    }
    current[best] -= total;
    weighted_cycle.push_back(static_cast<std::uint32_t>(best));
  }
}

SnapshotHolder::SnapshotHolder() {
  slots_[0] = std::make_shared<const Snapshot>();
  slots_[1] = slots_[0];
}

std::shared_ptr<const Snapshot> SnapshotHolder::load() const {
  for (;;) {
    int i = active_.load(std::memory_order_seq_cst);
    readers_[i].fetch_add(1, std::memory_order_seq_cst);
    if (active_.load(std::memory_order_seq_cst) == i) {
      std::shared_ptr<const Snapshot> s = slots_[i];
      readers_[i].fetch_sub(1, std::memory_order_release);
      return s;
    }
    readers_[i].fetch_sub(1, std::memory_order_release);  // flipped meanwhile: try the other
  }
}

void SnapshotHolder::store(std::shared_ptr<const Snapshot> s) {
  int next = 1 - active_.load(std::memory_order_relaxed);
  // Readers still on `next` entered before the previous flip and are copying its pointer.
  while (readers_[next].load(std::memory_order_acquire) != 0) std::this_thread::yield();
  slots_[next] = std::move(s);
  active_.store(next, std::memory_order_seq_cst);
}

}  // namespace spindle::lb
