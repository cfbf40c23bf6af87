// The scheduler trace (Go's GODEBUG=schedtrace=MS,scheddetail=1) and the SPINDLE_DEBUG
// variable that turns it on (and the block and mutex profiles). sysmon prints the line (sysmon.cc);
// Scheduler::sched_trace (schedtrace.cc) formats it. What each field means is in
// docs/observability.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace spindle::runtime {

// SPINDLE_DEBUG, read like GODEBUG: comma-separated key=value pairs.
struct DebugSettings {
  int64_t schedtrace_ms = 0;  // schedtrace=MS: print a SCHED line every MS ms (0: off)
  bool scheddetail = false;   // scheddetail=1: print the per-P and per-M lines too
  // blockprofilerate=NS, mutexprofilefraction=N: turn on the block and mutex profiles at start
  // (set_block_profile_rate, set_mutex_profile_fraction in profile/wait_profile.h; 0: off).
  int64_t blockprofilerate = 0;
  int64_t mutexprofilefraction = 0;
};

// Parses `value`. Unknown keys and malformed values are ignored; each adds a line to
// *warnings (when not null).
DebugSettings parse_debug_settings(std::string_view value, std::string* warnings);

// SPINDLE_DEBUG from the environment; its warnings go to stderr.
DebugSettings debug_settings_from_env();

}  // namespace spindle::runtime
