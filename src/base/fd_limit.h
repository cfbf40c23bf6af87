// The process's limit on open files (RLIMIT_NOFILE). A server's every connection is a
// descriptor, and the soft limit most systems start programs with (1024) is a relic of
// select(), which spindle does not use: every spindle program raises it to the hard limit at
// start and logs both, as Go does since 1.19. Accept still backs off on EMFILE when even the
// hard limit runs out (net/listener.cc).
#pragma once

#include <cstdint>
#include <string>

namespace spindle::base {

struct FdLimit {
  std::uint64_t soft_before = 0;  // the soft limit the process started with
  std::uint64_t soft = 0;         // the soft limit now
  std::uint64_t hard = 0;         // the hard limit (RLIM_INFINITY as UINT64_MAX)
  int error = 0;                  // errno of a failed raise (the soft limit stays), else 0

  // "open files: soft limit 1024 raised to 20000 (hard limit 20000)", or why it stayed.
  std::string describe() const;
};

// Raises the soft RLIMIT_NOFILE to the hard one (to fs.nr_open when the hard one is
// unlimited, which Linux refuses). Call once at start, before other threads exist.
FdLimit raise_fd_limit();

// The soft RLIMIT_NOFILE now.
std::uint64_t fd_limit();

}  // namespace spindle::base
