#include "runtime/testing.h"

#include <chrono>
#include <thread>

#include "runtime/runtime.h"

namespace spindle::runtime::testing {

void RuntimeTest::run(base::Task body) {
  Runtime rt(Options{.procs = procs()});
  rt.run(std::move(body));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (rt.live_goroutines() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(rt.live_goroutines(), 0) << "goroutines still alive 5 s after the test body returned";
}

}  // namespace spindle::runtime::testing
