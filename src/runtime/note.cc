// Note (note.h): the futex word an idle M parks on.
#include "runtime/note.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <ctime>

#include "runtime/timer.h"

namespace spindle::runtime {

void Note::sleep() {
  while (key_.load(std::memory_order_acquire) == 0) {
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&key_), FUTEX_WAIT_PRIVATE, 0, nullptr, nullptr,
            0);
  }
  key_.store(0, std::memory_order_relaxed);
}

bool Note::sleep_for(int64_t timeout_ns) {
  int64_t deadline = now_ns() + timeout_ns;
  while (key_.load(std::memory_order_acquire) == 0) {
    int64_t left = deadline - now_ns();
    if (left <= 0) return false;
    timespec ts{static_cast<time_t>(left / 1'000'000'000), static_cast<long>(left % 1'000'000'000)};
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&key_), FUTEX_WAIT_PRIVATE, 0, &ts, nullptr, 0);
  }
  key_.store(0, std::memory_order_relaxed);
  return true;
}

void Note::wakeup() {
  key_.store(1, std::memory_order_release);
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&key_), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr,
          0);
}

}  // namespace spindle::runtime
