#include "base/stats.h"

namespace spindle::base {

const char* to_string(MetricKind kind) {
  switch (kind) {
    case MetricKind::kCounter:
      return "counter";
    case MetricKind::kGauge:
      return "gauge";
  }
  return "unknown";
}

}  // namespace spindle::base
