// Always-on invariant checks and fatal errors (Go's `throw`): the message names the function,
// a backtrace follows, then the process aborts. Used for broken invariants and runtime misuse;
// peer, network and parse errors are values (src/base/error.h), never checks.
#pragma once

#include <string>

namespace spindle::base {

// Prints "fatal error: <msg>" plus where and a backtrace to stderr, then aborts. Async-signal
// unsafe (it allocates); signal handlers use fatal_raw.
[[noreturn]] void fatal(const char* func, const char* file, int line, const std::string& msg);

// Prints exactly "fatal error: <msg>\n" with write(2) and aborts: for signal handlers and for
// messages whose text is the contract (e.g. the deadlock report).
[[noreturn]] void fatal_raw(const char* msg);

}  // namespace spindle::base

#define SPINDLE_FATAL(msg) ::spindle::base::fatal(__func__, __FILE__, __LINE__, (msg))

#define SPINDLE_CHECK(cond, msg)                                                \
  do {                                                                          \
    if (__builtin_expect(!(cond), 0)) {                                         \
      ::spindle::base::fatal(__func__, __FILE__, __LINE__,                      \
                             std::string("check failed: " #cond ": ") + (msg)); \
    }                                                                           \
  } while (0)

#ifdef NDEBUG
#define SPINDLE_DCHECK(cond, msg) \
  do {                            \
  } while (0)
#else
#define SPINDLE_DCHECK(cond, msg) SPINDLE_CHECK(cond, msg)
#endif
