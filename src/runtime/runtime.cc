#include "runtime/runtime.h"

#include <sched.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "runtime/profile/wait_profile.h"
#include "runtime/scheduler_internal.h"
#include "runtime/traceback.h"

namespace spindle::runtime {
namespace {

std::optional<long> env_positive(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  char* end = nullptr;
  long n = std::strtol(v, &end, 10);
  if (*end != '\0' || n <= 0) {
    std::fprintf(stderr, "spindle: ignoring %s=%s (want a positive integer)\n", name, v);
    return std::nullopt;
  }
  return n;
}

// CPU limit from cgroup v2 cpu.max along the process's cgroup path (the smallest quota of the
// cgroup and its ancestors), rounded up; nullopt when unlimited or unknown.
std::optional<int> cgroup_cpu_limit() {
  std::ifstream cg("/proc/self/cgroup");
  std::string line, path;
  while (std::getline(cg, line)) {
    if (line.rfind("0::", 0) == 0) path = line.substr(3);
  }
  if (path.empty()) return std::nullopt;
  std::optional<int> best;
  for (;;) {
    std::ifstream in("/sys/fs/cgroup" + path + "/cpu.max");
    std::string quota;
    double period = 0;
    if (in >> quota >> period && quota != "max" && period > 0) {
      int cpus = std::max(1, static_cast<int>(std::ceil(std::stod(quota) / period)));
      if (!best || cpus < *best) best = cpus;
    }
    if (path == "/" || path.empty()) break;
    auto slash = path.rfind('/');
    path = slash == 0 ? "/" : path.substr(0, slash);
  }
  return best;
}

size_t resolve_stack_size(size_t requested) {
  if (requested != 0) return requested;
  if (auto env = env_positive("SPINDLE_STACK_SIZE")) return static_cast<size_t>(*env);
  return Options::kDefaultStackSize;
}

int resolve_shards(int requested, int procs) {
  if (requested > 0) return requested;
  const char* v = std::getenv("SPINDLE_NETPOLL");
  const std::string mode = v == nullptr ? "" : v;
  if (mode == "sharded") return procs;
  if (mode == "shared") return 1;
  if (!mode.empty() && mode != "auto") {
    if (auto n = env_positive("SPINDLE_NETPOLL")) return static_cast<int>(*n);  // else it says why
  }
  return procs >= Options::kMinProcsToShard ? procs : 1;
}

}  // namespace

int default_procs() {
  if (auto env = env_positive("SPINDLE_MAXPROCS")) return static_cast<int>(*env);
  cpu_set_t set;
  int n = 1;
  if (sched_getaffinity(0, sizeof set, &set) == 0) n = std::max(1, CPU_COUNT(&set));
  if (auto limit = cgroup_cpu_limit()) n = std::min(n, *limit);
  return n;
}

Runtime::Runtime(Options options) {
  int procs = options.procs > 0 ? options.procs : default_procs();
  sched_ = new Scheduler(procs, resolve_stack_size(options.stack_size),
                         resolve_shards(options.netpoll_shards, procs));
  if (options.dump_on_sigquit) {
    install_sigquit_dump();
    sigquit_dump_ = true;
  }
  const DebugSettings& d = sched_->debug();
  if (d.blockprofilerate > 0) set_block_profile_rate(d.blockprofilerate);
  if (d.mutexprofilefraction > 0) {
    set_mutex_profile_fraction(static_cast<int>(d.mutexprofilefraction));
  }
}

Runtime::~Runtime() {
  if (sigquit_dump_) remove_sigquit_dump();
  delete sched_;
}

void Runtime::run(base::Task main) { sched_->run_main(std::move(main)); }

int Runtime::procs() const { return sched_->procs(); }

Stats Runtime::stats() const { return sched_->stats(); }

int64_t Runtime::live_goroutines() const { return sched_->live_goroutines(); }

Stats current_stats() { return Scheduler::get()->stats(); }

size_t current_stack_size() { return Scheduler::get()->stack_size(); }

namespace {
Scheduler* sched_for(const char* what) {
  Scheduler* s = Scheduler::get();
  if (s == nullptr) {
    std::fprintf(stderr, "fatal error: %s called with no spindle Runtime\n", what);
    std::abort();
  }
  return s;
}
}  // namespace

// Not inlined: its return address is the go() call site, the "created by" of goroutine dumps.
[[gnu::noinline]] void go(base::Task fn) {
  sched_for("go")->spawn(std::move(fn), reinterpret_cast<uintptr_t>(__builtin_return_address(0)));
}

void yield() { sched_for("yield")->yield(); }

void lock_os_thread() { sched_for("lock_os_thread")->lock_os_thread(); }

void unlock_os_thread() { sched_for("unlock_os_thread")->unlock_os_thread(); }

uint64_t goroutine_id() {
  Machine* m = this_m();
  return m != nullptr && m->curg != nullptr ? m->curg->id : 0;
}

bool in_goroutine() {
  Machine* m = this_m();
  return m != nullptr && m->curg != nullptr;
}

}  // namespace spindle::runtime
