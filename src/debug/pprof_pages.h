// The profiles behind the /debug/pprof/ pages (Go's net/http/pprof): the CPU profile
// (profile?seconds=N) and the block and mutex profiles (block, mutex; ?debug=1 gives Go's
// text form), as gzipped profile.proto. DebugHandler serves them; the builders are public
// for programs and tests that write profiles elsewhere.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "debug/pprof_profile.h"
#include "http/server.h"
#include "runtime/profile/cpu_profile.h"
#include "runtime/profile/wait_profile.h"

namespace spindle::debug {

// Go's CPU profile: sample types samples/count and cpu/nanoseconds, period 1e9/hz ns of CPU.
// Each sample carries its labels (strings) and the goroutine id (the number label
// "goroutine"; absent for samples of scheduler code).
Profile cpu_profile(const std::vector<runtime::CpuSample>& samples, int hz, int64_t start_unix_ns,
                    int64_t duration_ns, uint64_t lost);

enum class WaitProfileKind { kBlock, kMutex };
// Go's block and mutex profiles: contentions/count and delay/nanoseconds; the mutex profile's
// values are scaled by its sampling fraction, as Go's are.
Profile wait_profile(WaitProfileKind kind, const std::vector<runtime::WaitRecord>& records);
// Go's ?debug=1 text: "--- contention:" (or "--- mutex:"), cycles/second (here nanoseconds),
// then per record "delay count @ pcs" and one "#\tpc\tfunction+offset\tfile:line" per frame.
// Symbolises: from a goroutine, call inside runtime::blocking().
std::string wait_profile_text(WaitProfileKind kind,
                              const std::vector<runtime::WaitRecord>& records);

// A 200 answer with a gzipped profile.proto, as Go's pages send it: an attachment named `name`.
void reply_profile(http::ResponseWriter& w, const std::string& body, const char* name);

// True for the paths serve_pprof_page answers.
bool is_pprof_page(std::string_view path);
// Answers /debug/pprof/profile, /debug/pprof/block, /debug/pprof/mutex (GET or HEAD) or
// /debug/pprof/symbol (also POST); 405 for other methods. The CPU profile runs for
// ?seconds=N (default 30, as Go), or until the client goes away; only one at a time: 409
// while another runs. symbol is Go's: pprof posts "0xADDR+0xADDR..." and reads
// "num_symbols: 1" then "0xADDR name" per address it can name.
void serve_pprof_page(std::string_view path, http::Request& req, http::ResponseWriter& w);

}  // namespace spindle::debug
