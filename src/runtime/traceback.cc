// Goroutine dumps (traceback.h).
//
// The registry is the GoroutineCache's list of every goroutine ever allocated (Go's allgs):
// goroutines are reused, never freed before the Runtime, so the list only grows on the spawn
// slow path (a fresh allocation) and the spawn fast path costs nothing more than storing its
// caller's address and goroutine id (created_pc, created_in).
//
// Walking a stack. Every file is built with frame pointers (cmake/Unwinding.cmake). A goroutine
// that is not running saved its registers on its own stack in spindle_switch_context (context.h):
// at its saved stack pointer lie, in order, MXCSR, r12-r15, rbx, rbp and the return address into
// the function that switched. That rbp heads the chain of frames: [fp] = the caller's fp,
// [fp + 8] = the return address into the caller. The walk reads only 8-byte aligned words inside
// the goroutine's own stack, requires each fp to be higher than the last (a chain runs towards
// the stack's top, so it cannot loop) and stops at kMaxFrames, at a zero fp (the trampoline's,
// make_context) or at the first word that breaks these rules: a function built without frame
// pointers (a system library) ends the stack early rather than faulting. The running
// goroutine walks its own chain from __builtin_frame_address(0).
#include "runtime/traceback.h"

#include <semaphore.h>
#include <signal.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <thread>

#include "runtime/profile/frames.h"
#include "runtime/race_hook.h"
#include "runtime/scheduler_internal.h"

namespace spindle::runtime {
namespace {

// Appends the return addresses of the frame chain headed by fp, inside [lo, hi), up to
// kMaxFrames in all (the profilers' walk, profile/frames.h).
void walk_chain(uintptr_t fp, uintptr_t lo, uintptr_t hi, GoroutineRecord& r) {
  const size_t room = kMaxFrames - std::min(kMaxFrames, r.stack.size());
  uintptr_t pcs[kMaxFrames + 1];
  // One more than there is room for: finding it means the stack was longer.
  const auto n =
      static_cast<size_t>(walk_frame_pointers(fp, lo, hi, pcs, static_cast<int>(room) + 1));
  r.truncated = n > room;
  r.stack.insert(r.stack.end(), pcs, pcs + std::min(n, room));
}

// A goroutine that is not running: from the frame spindle_switch_context saved.
__attribute__((no_sanitize("address"))) void walk_saved(const Goroutine* g, GoroutineRecord& r) {
  const auto sp = reinterpret_cast<uintptr_t>(g->ctx.sp);
  const auto lo = reinterpret_cast<uintptr_t>(g->stack.lo());
  const auto hi = reinterpret_cast<uintptr_t>(g->stack.hi());
  constexpr size_t kSavedWords = 8;  // context_x86_64.S: MXCSR/x87, r12-r15, rbx, rbp, return
  if (sp < lo || sp + kSavedWords * 8 > hi || sp % 8 != 0) return;
  const auto* saved = reinterpret_cast<const uintptr_t*>(sp);
  r.stack.push_back(saved[7]);
  walk_chain(saved[6], lo, hi, r);
}

// The calling goroutine, from this function's frame.
[[gnu::noinline]] void walk_self(const Goroutine* g, GoroutineRecord& r) {
  walk_chain(reinterpret_cast<uintptr_t>(__builtin_frame_address(0)),
             reinterpret_cast<uintptr_t>(g->stack.lo()), reinterpret_cast<uintptr_t>(g->stack.hi()),
             r);
}

// Fills r from g, whose status (loaded with acquire) is st and not dead; gate_open: the scan
// gate's barrier worked, so stacks of goroutines that are not running may be read.
void record(Goroutine* g, GStatus st, bool self, bool gate_open, GoroutineRecord& r) {
  r.id = g->id;
  r.created_pc = g->created_pc;
  r.created_in = g->created_in;
  if (self) {
    r.current = true;
    r.state = "running";
    walk_self(g, r);
    return;
  }
  switch (st) {
    case GStatus::kRunning:
      r.state = "running";
      r.no_stack = "goroutine running on other thread; stack unavailable";
      return;
    case GStatus::kSyscall:
      r.state = "syscall";
      r.waiting_since_ns = g->wait_since.load(std::memory_order_relaxed);
      r.no_stack = "goroutine in a blocking call on other thread; stack unavailable";
      return;
    case GStatus::kWaiting:
      r.state = g->wait_reason == WaitReason::kNone ? "waiting" : to_string(g->wait_reason);
      r.waiting_since_ns = g->wait_since.load(std::memory_order_relaxed);
      break;
    default:
      r.state = "runnable";
      break;
  }
  r.locked_to_thread = g->locked_m != nullptr;
  if (!gate_open) {
    r.no_stack = "stack unavailable: membarrier(2) is not permitted here";
  } else if (g->ctx.sp == nullptr) {
    r.no_stack = "goroutine not started yet; no stack";
  } else {
    race_point(RacePoint::kGoroutineScan, g);
    walk_saved(g, r);
  }
}

void append_hex(std::string& out, uintptr_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%" PRIxPTR, v);
  out += buf;
}

// "\tfile:line +0xoffset" for a call site (return address - 1 was symbolised).
void append_location(std::string& out, const debug::Frame& f) {
  out += '\t';
  out += f.file.empty() ? "?" : f.file;
  out += ':';
  out += std::to_string(f.line);
  if (f.function.empty()) {
    out += " pc=";
    append_hex(out, f.pc + 1);
  } else if (!f.inlined) {  // Go prints no offset for an inlined call either
    out += " +";
    append_hex(out, f.offset + 1);
  }
  out += '\n';
}

std::string shown_name(const debug::Frame& f) {
  return f.function.empty() ? "?" : debug::function_without_parameters(f.function);
}

// The qualified name of a demangled function: no parameters, no return type.
std::string qualified_name(const debug::Frame& f) {
  std::string name = debug::function_without_parameters(f.function);
  int depth = 0;
  for (size_t i = name.size(); i-- > 0;) {
    const char c = name[i];
    if (c == '>' || c == ')') ++depth;
    if (c == '<' || c == '(') --depth;
    if (c == ' ' && depth == 0) return name.substr(i + 1);
  }
  return name;
}

// The runtime's own code, and what runs a goroutine's function (base::Task): what a dump
// hides at the ends of a stack, as Go hides runtime.gopark and runtime.goexit.
bool is_runtime(const debug::Frame& f) {
  const std::string name = qualified_name(f);
  return name.starts_with("spindle::runtime::") || name.starts_with("spindle::base::Task::") ||
         name == "spindle_switch_context" || name == "spindle_context_trampoline";
}

}  // namespace

std::vector<GoroutineRecord> goroutine_snapshot() {
  Scheduler* s = Scheduler::get();
  if (s == nullptr) return {};
  Machine* m = this_m();
  const Goroutine* self = m != nullptr ? m->curg : nullptr;
  const std::vector<Goroutine*> all = s->all_goroutines();
  std::vector<GoroutineRecord> out;
  out.reserve(all.size());
  ScanGate& gate = s->scan_gate();
  const bool gate_open = gate.begin();
  for (Goroutine* g : all) {
    const GStatus st = g->status.load(std::memory_order_acquire);
    if (st == GStatus::kIdle || st == GStatus::kDead) continue;
    record(g, st, g == self, gate_open, out.emplace_back());
  }
  gate.end();
  std::sort(out.begin(), out.end(), [](const GoroutineRecord& a, const GoroutineRecord& b) {
    return a.current != b.current ? a.current : a.id < b.id;
  });
  return out;
}

std::string goroutine_header(const GoroutineRecord& g, int64_t now_ns) {
  std::string out = "goroutine " + std::to_string(g.id) + " [" + g.state;
  if (g.waiting_since_ns != 0 && !g.current) {
    const int64_t minutes = (now_ns - g.waiting_since_ns) / (60 * int64_t{1000000000});
    if (minutes >= 1) out += ", " + std::to_string(minutes) + " minutes";
  }
  if (g.locked_to_thread) out += ", locked to thread";
  out += "]:";
  return out;
}

std::pair<size_t, size_t> shown_frames(std::span<const debug::Frame> frames) {
  if (frames.empty()) return {0, 0};
  size_t first = 0;
  while (first + 1 < frames.size() && is_runtime(frames[first]) && is_runtime(frames[first + 1])) {
    ++first;
  }
  size_t last = frames.size();
  while (last > first && is_runtime(frames[last - 1])) --last;
  if (last <= first + 1 && is_runtime(frames[first])) return {0, frames.size()};  // all runtime
  return {first, last};
}

std::string format_goroutines(std::span<const GoroutineRecord> goroutines) {
  std::vector<uintptr_t> pcs;  // call sites: each return address - 1
  for (const GoroutineRecord& g : goroutines) {
    for (uintptr_t pc : g.stack) pcs.push_back(pc - 1);
    if (g.created_pc != 0) pcs.push_back(g.created_pc - 1);
  }
  const std::vector<std::vector<debug::Frame>> chains = debug::symbolize_inlined(pcs);
  const int64_t now = coarse_now_ns();
  std::string out;
  size_t next = 0;
  for (const GoroutineRecord& g : goroutines) {
    if (&g != goroutines.data()) out += '\n';
    out += goroutine_header(g, now);
    out += '\n';
    std::vector<debug::Frame> frames;
    for (size_t i = 0; i < g.stack.size(); ++i) {
      const std::vector<debug::Frame>& chain = chains[next++];
      frames.insert(frames.end(), chain.begin(), chain.end());
    }
    const auto [first, last] = shown_frames(frames);
    for (size_t i = first; i < last; ++i) {
      out += shown_name(frames[i]);
      out += "(...)\n";
      append_location(out, frames[i]);
    }
    if (g.truncated) out += "...additional frames elided...\n";
    if (g.no_stack != nullptr) {
      out += '\t';
      out += g.no_stack;
      out += '\n';
    }
    if (g.created_pc != 0) {
      const debug::Frame& f = chains[next++].front();  // the innermost: where go() was called
      out += "created by " + shown_name(f);
      if (g.created_in != 0) out += " in goroutine " + std::to_string(g.created_in);
      out += '\n';
      append_location(out, f);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// SIGQUIT

namespace {

// Allocated by the first install and never freed: a handler still running on another thread
// while a Runtime removes it must find it alive.
struct SigquitDump {
  sem_t wake;
  std::thread writer;  // from install to remove
  struct sigaction previous {};
  std::atomic<bool> stopping{false};
  // What the handler saw, for the first lines (Go's "PC=0x... m=0 sigcode=0").
  std::atomic<uintptr_t> pc{0};
  std::atomic<int> m{-1};
  std::atomic<int> code{0};
};

std::atomic<SigquitDump*> g_sigquit{nullptr};
bool g_sigquit_installed = false;  // by install_sigquit_dump, one Runtime at a time

void on_sigquit(int, siginfo_t* info, void* context) {
  SigquitDump* d = g_sigquit.load(std::memory_order_acquire);
  const auto* uc = static_cast<const ucontext_t*>(context);
  d->pc.store(static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]), std::memory_order_relaxed);
  Machine* m = this_m();
  d->m.store(m != nullptr ? m->id : -1, std::memory_order_relaxed);
  d->code.store(info->si_code, std::memory_order_relaxed);
  sem_post(&d->wake);  // async-signal-safe
}

void write_all(const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = write(STDERR_FILENO, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

void sigquit_writer(SigquitDump* d) {
  while (sem_wait(&d->wake) != 0) {
  }
  if (d->stopping.load()) return;
  std::string out = "SIGQUIT: quit\nPC=";
  append_hex(out, d->pc.load(std::memory_order_relaxed));
  out += " m=" + std::to_string(d->m.load(std::memory_order_relaxed)) +
         " sigcode=" + std::to_string(d->code.load(std::memory_order_relaxed)) + "\n\n";
  out += format_goroutines(goroutine_snapshot());
  write_all(out);
  _exit(2);
}

}  // namespace

void install_sigquit_dump() {
  struct sigaction current {};
  if (g_sigquit_installed || sigaction(SIGQUIT, nullptr, &current) != 0) return;
  // A handler the program installed stays; an inherited SIG_IGN does not (a shell starts
  // background jobs with SIGQUIT ignored), as Go overrides it for SIGQUIT.
  if ((current.sa_flags & SA_SIGINFO) != 0 ||
      (current.sa_handler != SIG_DFL && current.sa_handler != SIG_IGN)) {
    return;
  }
  SigquitDump* d = g_sigquit.load(std::memory_order_acquire);
  if (d == nullptr) {
    d = new SigquitDump();
    sem_init(&d->wake, 0, 0);
    g_sigquit.store(d, std::memory_order_release);
  }
  while (sem_trywait(&d->wake) == 0) {  // a late signal from an earlier Runtime's time
  }
  d->stopping.store(false);
  d->writer = std::thread(sigquit_writer, d);
  struct sigaction sa {};
  sa.sa_sigaction = on_sigquit;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGQUIT, &sa, &d->previous);
  g_sigquit_installed = true;
}

void remove_sigquit_dump() {
  if (!g_sigquit_installed) return;
  SigquitDump* d = g_sigquit.load(std::memory_order_acquire);
  sigaction(SIGQUIT, &d->previous, nullptr);
  d->stopping.store(true);
  sem_post(&d->wake);
  d->writer.join();  // at once, or never if a dump is being written (it ends the process)
  g_sigquit_installed = false;
}

}  // namespace spindle::runtime
