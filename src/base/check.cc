#include "base/check.h"

#include <execinfo.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace spindle::base {

void fatal(const char* func, const char* file, int line, const std::string& msg) {
  std::fprintf(stderr, "fatal error: %s\n\nin %s (%s:%d)\n", msg.c_str(), func, file, line);
  void* frames[64];
  int n = backtrace(frames, 64);
  backtrace_symbols_fd(frames, n, STDERR_FILENO);
  std::fflush(stderr);
  std::abort();
}

void fatal_raw(const char* msg) {
  constexpr char kPrefix[] = "fatal error: ";
  ssize_t ignored = write(STDERR_FILENO, kPrefix, sizeof(kPrefix) - 1);
  ignored = write(STDERR_FILENO, msg, std::strlen(msg));
  ignored = write(STDERR_FILENO, "\n", 1);
  (void)ignored;
  std::abort();
}

}  // namespace spindle::base
