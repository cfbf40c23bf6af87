// Goroutine labels (labels.h). A goroutine's set is one pointer, Goroutine::labels, written only
// by the goroutine itself (LabelScope) or before it first runs (spawn), and read by the SIGPROF
// handler interrupting it on the same thread: the new set is stored before the old one's
// reference is dropped, with a signal fence between, so the handler never sees a freed set.
#include "runtime/profile/labels.h"

#include <algorithm>

#include "runtime/goroutine.h"
#include "runtime/runtime.h"
#include "runtime/scheduler.h"

namespace spindle::runtime {
namespace {

// Sorted by key; for a repeated key the last value given wins.
std::vector<Label> normalized(std::vector<Label> in) {
  std::stable_sort(in.begin(), in.end(),
                   [](const Label& a, const Label& b) { return a.key < b.key; });
  std::vector<Label> out;
  for (Label& l : in) {
    if (!out.empty() && out.back().key == l.key) {
      out.back().value = std::move(l.value);
    } else {
      out.push_back(std::move(l));
    }
  }
  return out;
}

const LabelSetRep* make_rep(std::vector<Label> labels) {
  if (labels.empty()) return nullptr;
  auto* rep = new LabelSetRep;
  rep->labels = normalized(std::move(labels));
  return rep;
}

// Replaces g's set by rep (whose reference g takes over) and drops the old set's reference.
void set_labels(Goroutine* g, const LabelSetRep* rep) {
  const LabelSetRep* old = g->labels.load(std::memory_order_relaxed);
  g->labels.store(rep, std::memory_order_relaxed);
  // The profiler's signal handler runs on this thread: it sees rep or old, and old is still
  // alive until after this fence.
  std::atomic_signal_fence(std::memory_order_seq_cst);
  label_release(old);
}

}  // namespace

const LabelSetRep* label_retain(const LabelSetRep* rep) {
  if (rep != nullptr) rep->refs.fetch_add(1, std::memory_order_relaxed);
  return rep;
}

void label_release(const LabelSetRep* rep) {
  if (rep != nullptr && rep->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete rep;
}

LabelSet::LabelSet(std::initializer_list<std::pair<std::string_view, std::string_view>> labels) {
  std::vector<Label> v;
  v.reserve(labels.size());
  for (const auto& [k, val] : labels) v.push_back(Label{std::string(k), std::string(val)});
  rep_ = make_rep(std::move(v));
}

LabelSet::LabelSet(std::vector<Label> labels) : rep_(make_rep(std::move(labels))) {}

std::span<const Label> LabelSet::labels() const {
  if (rep_ == nullptr) return {};
  return rep_->labels;
}

std::optional<std::string_view> LabelSet::get(std::string_view key) const {
  for (const Label& l : labels()) {
    if (l.key == key) return l.value;
  }
  return std::nullopt;
}

LabelSet LabelSet::merged(const LabelSet& more) const {
  if (more.empty()) return *this;
  if (empty()) return more;
  std::vector<Label> all(labels().begin(), labels().end());
  all.insert(all.end(), more.labels().begin(), more.labels().end());
  return LabelSet(std::move(all));
}

LabelSet goroutine_labels() {
  if (!in_goroutine()) return {};
  return LabelSet::adopt(label_retain(current("goroutine_labels")->labels.load()));
}

LabelScope::LabelScope(const LabelSet& labels) {
  Goroutine* g = current("LabelScope");
  saved_ = label_retain(g->labels.load(std::memory_order_relaxed));
  LabelSet now = LabelSet::adopt(label_retain(saved_)).merged(labels);
  set_labels(g, label_retain(now.rep()));
}

LabelScope::~LabelScope() { set_labels(current("~LabelScope"), saved_); }

}  // namespace spindle::runtime
