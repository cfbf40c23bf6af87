// Helpers shared by the src/net tests: descriptor counting for leak checks, a goroutine echo
// server, and a scoped RLIMIT_NOFILE change.
#pragma once

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <string>

#include "net/conn.h"
#include "net/listener.h"
#include "runtime/runtime.h"
#include "runtime/sync/wait_group.h"

namespace spindle::net::testing {

// Open descriptors of this process (entries of /proc/self/fd, less the one opendir uses).
inline int count_open_fds() {
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  int n = 0;
  while (readdir(d) != nullptr) ++n;
  closedir(d);
  return n - 3;  // ".", ".." and the directory's own descriptor
}

// Echoes everything read on c until end of stream or an error, then closes it.
inline void echo(Conn c) {
  char buf[4096];  // small: the stress test parks 10k of these stacks
  for (;;) {
    auto n = c.read(buf);
    if (!n || *n == 0) return;
    if (!c.write(std::string_view(buf, *n))) return;
  }
}

// Accepts until the listener is closed, one echo goroutine per connection; wg counts the
// accept loop and every echo goroutine.
inline void serve_echo(Listener* l, runtime::WaitGroup* wg) {
  wg->add(1);
  runtime::go([l, wg] {
    for (;;) {
      auto c = l->accept();
      if (!c) {
        EXPECT_TRUE(c.error().closed()) << c.error().message();
        break;
      }
      wg->add(1);
      runtime::go([c = std::move(*c), wg]() mutable {
        echo(std::move(c));
        wg->done();
      });
    }
    wg->done();
  });
}

// Sets the soft RLIMIT_NOFILE for the scope (clamped to the hard limit); restores it after.
class ScopedFdLimit {
 public:
  explicit ScopedFdLimit(rlim_t soft) {
    getrlimit(RLIMIT_NOFILE, &old_);
    rlimit r = old_;
    r.rlim_cur = soft < old_.rlim_max ? soft : old_.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
  ~ScopedFdLimit() { setrlimit(RLIMIT_NOFILE, &old_); }
  ScopedFdLimit(const ScopedFdLimit&) = delete;
  ScopedFdLimit& operator=(const ScopedFdLimit&) = delete;

 private:
  rlimit old_{};
};

}  // namespace spindle::net::testing
