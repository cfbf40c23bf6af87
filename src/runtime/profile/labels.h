// Goroutine labels (Go's runtime/pprof labels and pprof.Do): key/value strings attached to the
// running goroutine, inherited by the goroutines it spawns and recorded with every CPU profile
// sample taken while it runs, so a profile can be cut by them
// (`go tool pprof -tagfocus backend=b1`). The design is in docs/observability.md ("Labels").
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spindle::runtime {

struct Label {
  std::string key;
  std::string value;
};

// The shared, immutable body of a LabelSet. Goroutine::labels holds one reference; the CPU
// profiler's signal handler takes one more for a sample (an atomic increment: no lock, no
// allocation). Internal: use LabelSet.
struct LabelSetRep {
  mutable std::atomic<int64_t> refs{1};
  std::vector<Label> labels;  // sorted by key, each key once
};
// Take and drop one reference (null is allowed and ignored). label_retain is async-signal-safe.
const LabelSetRep* label_retain(const LabelSetRep* rep);
void label_release(const LabelSetRep* rep);

// An immutable set of labels, sorted by key, each key once (the last value given wins). A
// handle: copying it copies a reference, so a set built once (a backend's) costs nothing to
// apply again.
class LabelSet {
 public:
  LabelSet() = default;
  LabelSet(std::initializer_list<std::pair<std::string_view, std::string_view>> labels);
  explicit LabelSet(std::vector<Label> labels);
  LabelSet(const LabelSet& o) : rep_(label_retain(o.rep_)) {}
  LabelSet(LabelSet&& o) noexcept : rep_(std::exchange(o.rep_, nullptr)) {}
  LabelSet& operator=(LabelSet o) noexcept {
    std::swap(rep_, o.rep_);
    return *this;
  }
  ~LabelSet() { label_release(rep_); }

  bool empty() const { return rep_ == nullptr || rep_->labels.empty(); }
  std::span<const Label> labels() const;
  std::optional<std::string_view> get(std::string_view key) const;
  // This set with `more` added; for a key in both, more's value.
  LabelSet merged(const LabelSet& more) const;

  // Takes over one reference to rep (may be null).
  static LabelSet adopt(const LabelSetRep* rep) {
    LabelSet s;
    s.rep_ = rep;
    return s;
  }
  const LabelSetRep* rep() const { return rep_; }

 private:
  const LabelSetRep* rep_ = nullptr;
};

// The calling goroutine's labels; empty outside goroutines.
LabelSet goroutine_labels();

// Adds labels to the calling goroutine for the scope's lifetime (a key it already has takes
// the new value), then restores the previous set. Goroutines spawned meanwhile keep the set
// they inherited. Must be created and destroyed on the same goroutine (fatal outside one).
class LabelScope {
 public:
  explicit LabelScope(const LabelSet& labels);
  ~LabelScope();
  LabelScope(const LabelScope&) = delete;
  LabelScope& operator=(const LabelScope&) = delete;

 private:
  const LabelSetRep* saved_;
};

// Go's pprof.Do: runs fn with the calling goroutine's labels plus `labels`, then restores them.
template <class F>
decltype(auto) with_labels(const LabelSet& labels, F&& fn) {
  LabelScope scope(labels);
  return std::forward<F>(fn)();
}

}  // namespace spindle::runtime
