// Picker: the balancing policy, one implementation per file (round_robin.cc, least_conn.cc,
// p2c_ewma.cc, weighted.cc) behind this interface, like HAProxy's lb_* ops tables. A picker is
// called by every request goroutine at once, with the snapshot the request loaded; it takes no
// lock and keeps only atomics of its own.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/result.h"
#include "lb/snapshot.h"

namespace spindle::lb {

enum class Policy { kRoundRobin, kLeastConn, kP2cEwma, kWeighted };
const char* to_string(Policy p);  // the --policy spelling: "round-robin", ...
base::Result<Policy, std::string> parse_policy(std::string_view text);

class Picker {
 public:
  virtual ~Picker() = default;
  // A backend of snap (which must not be empty): preferably not `avoid` (the backend a retry
  // just failed on) when there is another. Any goroutine; never parks.
  virtual Backend* pick(const Snapshot& snap, const Backend* avoid) = 0;
};

// Exactly even: the k-th call picks backends[k mod n] of the snapshot it is given.
std::unique_ptr<Picker> make_round_robin();
// The fewest requests in flight; ties go round-robin so equal backends share the load.
std::unique_ptr<Picker> make_least_conn();
// Power of two choices: two random backends, the lower EWMA latency × (in flight + 1) wins.
std::unique_ptr<Picker> make_p2c_ewma();
// Smooth weighted round-robin over the snapshot's cycle: exact over each cycle.
std::unique_ptr<Picker> make_weighted();
std::unique_ptr<Picker> make_picker(Policy p);

}  // namespace spindle::lb
