#include "runtime/stack.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "base/check.h"

namespace spindle::runtime {
namespace {

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

}  // namespace

Stack Stack::allocate(size_t usable) {
  const size_t page = page_size();
  Stack s;
  s.guard_ = page;
  s.mapped_ = ((usable + page - 1) / page) * page + page;
  void* p = mmap(nullptr, s.mapped_, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (p == MAP_FAILED || mprotect(p, page, PROT_NONE) != 0) {
    int err = errno;
    SPINDLE_FATAL(std::string("cannot allocate a goroutine stack of ") + std::to_string(s.mapped_) +
                  " bytes: " + std::strerror(err) +
                  ". Each stack takes two memory mappings (stack and guard page); "
                  "vm.max_map_count is " +
                  max_map_count() + " (raise it with sysctl, or run fewer goroutines at once)");
  }
  s.base_ = static_cast<char*>(p);
  return s;
}

void Stack::release() {
  if (base_ != nullptr) munmap(base_, mapped_);
  base_ = nullptr;
  mapped_ = guard_ = 0;
}

bool Stack::in_guard(const void* addr) const {
  auto* a = static_cast<const char*>(addr);
  // A large frame can jump past the guard; count a little below it too.
  return base_ != nullptr && a >= base_ - 16 * page_size() && a < base_ + guard_;
}

}  // namespace spindle::runtime
