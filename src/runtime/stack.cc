#include "runtime/stack.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <string>
#include <vector>

#include "base/check.h"
#include "base/spin_lock.h"

namespace spindle::runtime {
namespace {

// Stacks are carved from address space reserved PROT_NONE in large chunks, so a new stack
// costs one mprotect (its guard page simply stays PROT_NONE) instead of mmap + mprotect.
// Measured with 100k goroutines parked at once: half the system calls on the mmap lock, which
// the Ms otherwise contend on. A released stack goes to a "dirty" list with its pages still
// resident, so reusing it costs neither a system call nor a page fault; sysmon returns dirty
// pages to the kernel in the background (scavenge_stacks: MADV_DONTNEED, like Go's scavenger)
// and the stack's address range moves to the free list, reused without a system call.
constexpr size_t kChunkBytes = size_t{1} << 30;  // reserved at a time (no memory, no commit)

struct Arena {
  base::SpinLock mu;
  char* next GUARDED_BY(mu) = nullptr;
  char* end GUARDED_BY(mu) = nullptr;
  std::deque<Stack> dirty GUARDED_BY(mu);  // released, pages still resident (oldest first)
  std::vector<Stack> free GUARDED_BY(mu);  // scavenged: pages dropped, still RW
};

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

size_t page_size() {
  static const size_t kPage = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return kPage;
}

std::string max_map_count() {
  std::ifstream in("/proc/sys/vm/max_map_count");
  std::string v;
  in >> v;
  return v.empty() ? "unknown" : v;
}

[[noreturn]] void fail(size_t bytes, int err) {
  SPINDLE_FATAL(std::string("cannot allocate a goroutine stack of ") + std::to_string(bytes) +
                " bytes: " + std::strerror(err) +
                ". Each stack takes two memory mappings (stack and guard page); "
                "vm.max_map_count is " +
                max_map_count() + " (raise it with sysctl, or run fewer goroutines at once)");
}

}  // namespace

Stack Stack::allocate(size_t usable) {
  const size_t page = page_size();
  const size_t mapped = ((usable + page - 1) / page) * page + page;
  Arena& a = arena();
  char* base = nullptr;
  {
    base::SpinLockGuard l(a.mu);
    Stack reused;
    if (take(a.dirty, mapped, &reused) || take(a.free, mapped, &reused)) return reused;
    if (a.next == nullptr || a.end - a.next < static_cast<ptrdiff_t>(mapped)) {
      size_t chunk = std::max(kChunkBytes, mapped);
      void* p = mmap(nullptr, chunk, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (p == MAP_FAILED) fail(mapped, errno);
      a.next = static_cast<char*>(p);
      a.end = a.next + chunk;
    }
    base = a.next;
    a.next += mapped;
  }
  if (mprotect(base + page, mapped - page, PROT_READ | PROT_WRITE) != 0) fail(mapped, errno);
  Stack s;
  s.base_ = base;
  s.mapped_ = mapped;
  s.guard_ = page;
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
  // A large frame can jump past the guard; count a little below it too.
  return base_ != nullptr && a >= base_ - 16 * page_size() && a < base_ + guard_;
}

}  // namespace spindle::runtime
