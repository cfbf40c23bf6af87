#include "net/signals.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstring>

#include "runtime/netpoll.h"

namespace spindle::net {
namespace {

sigset_t make_set(std::initializer_list<int> signals) {
  sigset_t set;
  sigemptyset(&set);
  for (int s : signals) sigaddset(&set, s);
  return set;
}

std::string errno_text(const char* op, int err) { return std::string(op) + ": " + strerror(err); }

}  // namespace

void block_signals(std::initializer_list<int> signals) {
  sigset_t set = make_set(signals);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

base::Result<int, std::string> wait_for_signal(std::initializer_list<int> signals) {
  using R = base::Result<int, std::string>;
  sigset_t set = make_set(signals);
  int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) return R(errno_text("signalfd", errno));
  int err = 0;
  runtime::PollDesc* pd = runtime::poll_open(fd, &err);
  if (pd == nullptr) {
    close(fd);
    return R(errno_text("poll_open(signalfd)", err));
  }
  R result(std::string("signalfd closed"));
  for (;;) {
    signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof info);
    if (n == static_cast<ssize_t>(sizeof info)) {
      result = R(static_cast<int>(info.ssi_signo));
      break;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) {
      result = R(errno_text("read(signalfd)", errno));
      break;
    }
    if (runtime::poll_wait(pd, runtime::PollMode::kRead) == runtime::PollStatus::kClosed) break;
  }
  runtime::poll_close(pd);
  close(fd);
  return result;
}

}  // namespace spindle::net
