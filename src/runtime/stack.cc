#include "runtime/stack.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <string>
#include <vector>

#include "base/check.h"
#include "base/spin_lock.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102  // Linux 6.13; older headers lack it
#endif

namespace spindle::runtime {
namespace {

// Stacks are carved back to back from read-write arenas reserved in large chunks (no memory
// and, with MAP_NORESERVE, no commit charge until touched): [guard][usable][guard][usable]...
// A new stack costs one system call, the guard's madvise. Guard markers are page-table
// entries, not mappings, so a chunk stays one mapping however many stacks it holds; a
// PROT_NONE guard would split it into two mappings per stack. A released stack goes to a
// "dirty" list with its pages still resident, so reusing it costs neither a system call nor
// a page fault; sysmon returns dirty pages to the kernel in the background (scavenge_stacks:
// MADV_DONTNEED, like Go's scavenger, which keeps the guard) and the stack moves to the free
// list, reused without a system call.
constexpr size_t kChunkBytes = size_t{1} << 30;

struct Arena {
  base::SpinLock mu;
  char* next GUARDED_BY(mu) = nullptr;
  char* end GUARDED_BY(mu) = nullptr;
  size_t carved GUARDED_BY(mu) = 0;
  std::deque<Stack> dirty GUARDED_BY(mu);  // released, pages still resident (oldest first)
  std::vector<Stack> free GUARDED_BY(mu);  // scavenged: pages dropped, guard in place
};

size_t page_size() {
  static const size_t kPage = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return kPage;
}

std::atomic<bool> g_guard_mappings_for_test{false};

// Whether this kernel has guard markers (Linux 6.13+): tried once on a scratch page.
bool kernel_has_guard_markers() {
  static const bool kHas = [] {
    void* p =
        mmap(nullptr, page_size(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return false;
    bool ok = madvise(p, page_size(), MADV_GUARD_INSTALL) == 0;
    munmap(p, page_size());
    return ok;
  }();
  return kHas;
}

bool guard_mappings() {
  return g_guard_mappings_for_test.load(std::memory_order_relaxed) || !kernel_has_guard_markers();
}

// Takes a stack of `mapped` bytes from `list`, searching from the back (the newest).
template <typename List>
bool take(List& list, size_t mapped, Stack* out) {
  for (size_t i = list.size(); i-- > 0;) {
    if (list[i].mapped() == mapped) {
      *out = list[i];
      list[i] = list.back();
      list.pop_back();
      return true;
    }
  }
  return false;
}

Arena& arena() {
  static Arena* a = new Arena;  // never destroyed: stacks may be released during exit
  return *a;
}

std::string max_map_count() {
  std::ifstream in("/proc/sys/vm/max_map_count");
  std::string v;
  in >> v;
  return v.empty() ? "unknown" : v;
}

// Out of memory for stacks is not a broken invariant: say what ran out and what to change,
// and exit with Go's status for fatal errors, without a core dump.
[[noreturn]] void out_of_memory(size_t mapped, size_t carved, const char* call, int err) {
  std::string msg = "fatal error: out of memory: cannot allocate a goroutine stack of " +
                    std::to_string(mapped / 1024) + " KiB (" + call + ": " + std::strerror(err) +
                    ") after " + std::to_string(carved) + " stacks. ";
  if (guard_mappings()) {
    msg +=
        "This kernel has no guard markers (MADV_GUARD_INSTALL, Linux 6.13), so each stack "
        "takes two memory mappings and vm.max_map_count (" +
        max_map_count() + ") limits them: raise it, or run fewer goroutines at once.\n";
  } else {
    msg +=
        "The address-space limit (ulimit -v) or the kernel's commit limit "
        "(vm.overcommit_memory=2 counts every stack's full size) was reached: run fewer "
        "goroutines at once, or give them smaller stacks (SPINDLE_STACK_SIZE).\n";
  }
  ssize_t ignored = write(STDERR_FILENO, msg.data(), msg.size());
  (void)ignored;
  _exit(2);
}

// Reserves a new chunk of at least `mapped` bytes: 1 GiB, or less when the address space
// has no room for that much. Null if not even `mapped` bytes fit.
char* reserve_chunk(size_t mapped, size_t* size) {
  for (size_t chunk = std::max(kChunkBytes, mapped);; chunk /= 2) {
    chunk = std::max(chunk, mapped);
    void* p = mmap(nullptr, chunk, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p != MAP_FAILED) {
      // Stacks touch a page or two each: a transparent huge page would make 2 MiB resident.
      madvise(p, chunk, MADV_NOHUGEPAGE);
      *size = chunk;
      return static_cast<char*>(p);
    }
    if (chunk == mapped) return nullptr;
  }
}

// Makes [base, base + bytes) fault on any access. Returns the failing call's name and sets
// errno on failure, null on success.
const char* install_guard(char* base, size_t bytes) {
  if (guard_mappings()) return mprotect(base, bytes, PROT_NONE) == 0 ? nullptr : "mprotect";
  return madvise(base, bytes, MADV_GUARD_INSTALL) == 0 ? nullptr : "madvise(MADV_GUARD_INSTALL)";
}

}  // namespace

StackGuards stack_guards() {
  return guard_mappings() ? StackGuards::kMappings : StackGuards::kMarkers;
}

void use_guard_mappings_for_test() {
  g_guard_mappings_for_test.store(true, std::memory_order_relaxed);
}

size_t stacks_carved() {
  Arena& a = arena();
  base::SpinLockGuard l(a.mu);
  return a.carved;
}

Stack Stack::allocate(size_t usable) {
  const size_t page = page_size();
  const size_t guard = (kGuardBytes + page - 1) / page * page;
  const size_t mapped = (usable + page - 1) / page * page + guard;
  Arena& a = arena();
  char* base = nullptr;
  size_t carved = 0;
  {
    base::SpinLockGuard l(a.mu);
    Stack reused;
    if (take(a.dirty, mapped, &reused) || take(a.free, mapped, &reused)) return reused;
    if (a.next == nullptr || a.end - a.next < static_cast<ptrdiff_t>(mapped)) {
      size_t chunk = 0;
      char* p = reserve_chunk(mapped, &chunk);
      if (p == nullptr) out_of_memory(mapped, a.carved, "mmap", errno);
      a.next = p;
      a.end = p + chunk;
    }
    base = a.next;
    a.next += mapped;
    carved = ++a.carved;
  }
  if (const char* call = install_guard(base, guard)) out_of_memory(mapped, carved, call, errno);
  Stack s;
  s.base_ = base;
  s.mapped_ = mapped;
  s.guard_ = guard;
  return s;
}

void Stack::release() {
  if (base_ == nullptr) return;
  Arena& a = arena();
  {
    base::SpinLockGuard l(a.mu);
    a.dirty.push_back(*this);
  }
  base_ = nullptr;
  mapped_ = guard_ = 0;
}

size_t scavenge_stacks(size_t keep, size_t max) {
  Arena& a = arena();
  size_t done = 0;
  while (done < max) {
    Stack s;
    {
      base::SpinLockGuard l(a.mu);
      if (a.dirty.size() <= keep) break;
      s = a.dirty.front();
      a.dirty.pop_front();
    }
    madvise(s.lo(), s.usable(), MADV_DONTNEED);
    base::SpinLockGuard l(a.mu);
    a.free.push_back(s);
    ++done;
  }
  return done;
}

bool Stack::in_guard(const void* addr) const {
  auto* a = static_cast<const char*>(addr);
  return base_ != nullptr && a >= base_ && a < base_ + guard_;
}

}  // namespace spindle::runtime
