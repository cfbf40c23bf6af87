// Snapshot: the immutable set of backends requests are routed to, and SnapshotHolder, which
// publishes a new one atomically. Readers (every request) never take a lock; the writer (the
// registry, under its own mutex) swaps in a new snapshot when membership or health changes.
// Design: docs/lb.md, "Snapshots".
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "lb/backend.h"

namespace spindle::lb {

struct Snapshot {
  std::vector<std::shared_ptr<Backend>> backends;  // routable now; may be empty
  // The weighted picker's cycle: indices into `backends`, smooth weighted round-robin order,
  // each backend appearing `weight / gcd` times. Built once per snapshot.
  std::vector<std::uint32_t> weighted_cycle;
  bool panic = false;  // contains backends kept only by the panic threshold

  // Fills weighted_cycle from the backends' weights.
  void build_weighted_cycle();
};

// A left-right holder: two slots and a reader count per slot. A reader announces itself on
// the active slot, re-checks that the slot is still active, copies the shared_ptr and leaves;
// a writer fills the inactive slot only once its readers have left, then flips. Readers never
// wait; the writer waits at most for readers that are copying one pointer. Writers must be
// serialised by the caller (the registry's mutex).
class SnapshotHolder {
 public:
  SnapshotHolder();
  // The current snapshot; never null. Any thread, lock-free.
  std::shared_ptr<const Snapshot> load() const;
  // Publishes s. One writer at a time (the caller's lock).
  void store(std::shared_ptr<const Snapshot> s);

 private:
  std::atomic<int> active_{0};
  mutable std::atomic<std::int64_t> readers_[2] = {0, 0};
  std::shared_ptr<const Snapshot> slots_[2];
};

}  // namespace spindle::lb
