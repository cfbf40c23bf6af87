#include "lb/picker.h"

namespace spindle::lb {

const char* to_string(Policy p) {
  switch (p) {
    case Policy::kRoundRobin:
      return "round-robin";
    case Policy::kLeastConn:
      return "least-conn";
    case Policy::kP2cEwma:
      return "p2c-ewma";
    case Policy::kWeighted:
      return "weighted";
  }
  return "?";
}

base::Result<Policy, std::string> parse_policy(std::string_view text) {
  for (Policy p : {Policy::kRoundRobin, Policy::kLeastConn, Policy::kP2cEwma, Policy::kWeighted}) {
    if (text == to_string(p)) return p;
  }
  return "unknown policy \"" + std::string(text) +
         "\": use round-robin, least-conn, p2c-ewma or weighted";
}

std::unique_ptr<Picker> make_picker(Policy p) {
  switch (p) {
    case Policy::kRoundRobin:
      return make_round_robin();
    case Policy::kLeastConn:
      return make_least_conn();
    case Policy::kP2cEwma:
      return make_p2c_ewma();
    case Policy::kWeighted:
      return make_weighted();
  }
  return make_round_robin();
}

}  // namespace spindle::lb
