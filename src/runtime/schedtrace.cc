// The scheduler trace (schedtrace.h). Scheduler::sched_trace reads only state that other
// threads may read without stopping anyone: the atomics the scheduler keeps anyway (idle P
// and spinning M counts, the global queue's length, each P's status word, ticks, run queue
// indices and timer count), each loaded on its own, so a line is not one consistent snapshot
// (Go's is not either). The idle M count and the M list are read under the scheduler lock,
// held for the few hundred nanoseconds the line takes to build, once per interval, as Go does.
#include "runtime/schedtrace.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "runtime/scheduler_internal.h"

namespace spindle::runtime {

DebugSettings parse_debug_settings(std::string_view value, std::string* warnings) {
  DebugSettings d;
  auto warn = [&](std::string_view item, const char* why) {
    if (warnings == nullptr) return;
    warnings->append("spindle: SPINDLE_DEBUG: ignoring \"");
    warnings->append(item);
    warnings->append("\" (");
    warnings->append(why);
    warnings->append(")\n");
  };
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      warn(item, "want key=value");
      continue;
    }
    std::string_view key = item.substr(0, eq);
    std::string text(item.substr(eq + 1));
    char* end = nullptr;
    long long n = std::strtoll(text.c_str(), &end, 10);
    bool number = !text.empty() && *end == '\0' && n >= 0;
    if (key == "schedtrace") {
      if (!number) {
        warn(item, "want a number of milliseconds");
        continue;
      }
      d.schedtrace_ms = n;
    } else if (key == "scheddetail") {
      if (!number) {
        warn(item, "want 0 or 1");
        continue;
      }
      d.scheddetail = n != 0;
    } else if (key == "blockprofilerate" || key == "mutexprofilefraction") {
      if (!number || n > INT32_MAX) {
        warn(item, "want a number (0: off)");
        continue;
      }
      (key == "blockprofilerate" ? d.blockprofilerate : d.mutexprofilefraction) = n;
    } else {
      warn(item, "unknown key");
    }
  }
  return d;
}

DebugSettings debug_settings_from_env() {
  const char* v = std::getenv("SPINDLE_DEBUG");
  if (v == nullptr) return {};
  std::string warnings;
  DebugSettings d = parse_debug_settings(v, &warnings);
  if (!warnings.empty()) std::fputs(warnings.c_str(), stderr);
  return d;
}

namespace {

// Go's P status numbers (_Pidle, _Prunning, _Psyscall), which scheddetail prints.
int go_pstatus(PState s) {
  switch (s) {
    case PState::kIdle:
      return 0;
    case PState::kBusy:
    case PState::kRunning:
      return 1;
    case PState::kSyscall:
      return 2;
  }
  return 0;
}

// The M named by a P status word, or -1 when the P is idle.
int owner_of(uint32_t word) { return static_cast<int>(word >> 8) - 1; }

}  // namespace

std::string Scheduler::sched_trace(int64_t now, bool detailed) const {
  constexpr auto kRelaxed = std::memory_order_relaxed;
  std::string out;
  out.reserve(128 + (detailed ? 128 : 8) * allp_.size());
  auto num = [&](int64_t n) { out += std::to_string(n); };
  base::ThreadMutexLock l(mu_);
  out += "SCHED ";
  num((now - start_ns_) / 1'000'000);
  out += "ms: gomaxprocs=";
  num(procs());
  out += " idleprocs=";
  num(idle_.idle_p_count(kRelaxed));
  out += " threads=";
  num(m_count_.load(kRelaxed) + 1);  // and sysmon's thread, as Go counts it
  out += " spinningthreads=";
  num(idle_.spinning_m_count());
  out += " needspinning=0 idlethreads=";
  num(locked_.idle.idle_m_count);
  out += " runqueue=";
  num(global_.size(kRelaxed));
  if (detailed) {
    out += " gcwaiting=false nmidlelocked=";
    num(locked_.idle.idle_locked_m_count);
    out += " stopwait=0 sysmonwait=";
    out += sysmon_.sleeping() ? "true" : "false";
    out += '\n';
  }
  for (size_t i = 0; i < allp_.size(); ++i) {
    const Processor& p = *allp_[i];
    if (detailed) {
      uint32_t word = p.status.load(kRelaxed);
      out += "  P";
      num(p.id);
      out += ": status=";
      num(go_pstatus(pstate_of(word)));
      out += " schedtick=";
      num(p.schedtick.load(kRelaxed));
      out += " syscalltick=";
      num(p.syscalltick.load(kRelaxed));
      out += " m=";
      if (owner_of(word) >= 0) {
        num(owner_of(word));
      } else {
        out += "nil";
      }
      out += " runqsize=";
      num(p.runq.size());
      out += " timerslen=";
      num(static_cast<int64_t>(p.timers.size()));
      out += '\n';
    } else {
      out += i == 0 ? " [" : " ";
      num(p.runq.size());
      if (i + 1 == allp_.size()) out += "]\n";
    }
  }
  if (detailed) {
    // An M's own fields (curg, spinning, locked goroutine) are written by its thread without
    // atomics; only the P it holds can be read from here, through the P status words.
    for (const auto& m : locked_.allm) {
      out += "  M";
      num(m->id);
      out += ": p=";
      int held = -1;
      for (const auto& p : allp_) {
        if (owner_of(p->status.load(kRelaxed)) == m->id) held = p->id;
      }
      if (held >= 0) {
        num(held);
      } else {
        out += "nil";
      }
      out += '\n';
    }
  }
  return out;
}

}  // namespace spindle::runtime
