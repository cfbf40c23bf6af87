#include "lb/response_counts.h"

namespace spindle::lb {

std::size_t method_class(http::Method method) {
  switch (method) {
    case http::Method::kGet:
      return 0;
    case http::Method::kHead:
      return 1;
    case http::Method::kPost:
      return 2;
    case http::Method::kPut:
      return 3;
    case http::Method::kDelete:
      return 4;
    default:
      return kMethodClasses.size() - 1;
  }
}

StatusCounts::Snapshot StatusCounts::snapshot() const {
  Snapshot out{};
  for (std::size_t i = 0; i < cells_.size(); ++i) out[i] = cells_[i].load();
  return out;
}

void StatusCounts::add(const Snapshot& s) {
  for (std::size_t i = 0; i < cells_.size(); ++i) cells_[i].add(s[i]);
}

ResponseCounts::Snapshot ResponseCounts::snapshot() const {
  Snapshot out{};
  for (std::size_t i = 0; i < by_method_.size(); ++i) out[i] = by_method_[i].snapshot();
  return out;
}

}  // namespace spindle::lb
