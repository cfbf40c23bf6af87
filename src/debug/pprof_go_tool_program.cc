// The program pprof_go_tool_test.sh profiles with `go tool pprof`: serves the debug pages on a
// loopback port (written to the file named by its argument), burns CPU in two goroutines
// labelled worker=a and worker=b, and keeps a third waiting on a channel that a ticker feeds.
// Exits after 120 s, or when the test kills it.
#include <atomic>
#include <cstdio>

#include "debug/debug_handler.h"
#include "net/listener.h"
#include "runtime/channel.h"
#include "runtime/profile/frames.h"
#include "runtime/profile/labels.h"
#include "runtime/runtime.h"
#include "runtime/time.h"

namespace pprof_demo {

std::atomic<uint64_t> g_sink{0};

__attribute__((noinline)) uint64_t hot_loop_a(uint64_t x) {
  for (int i = 0; i < 1'000'000; ++i) x = x * 6364136223846793005ull + 1442695040888963407ull;
  return x;
}
__attribute__((noinline)) uint64_t hot_loop_b(uint64_t x) {
  for (int i = 0; i < 1'000'000; ++i) x = x * 2862933555777941757ull + 3037000493ull;
  return x;
}
__attribute__((noinline)) void wait_on_channel(spindle::runtime::Chan<int>& c) {
  (void)c.recv();
  spindle::runtime::keep_frame();
}

}  // namespace pprof_demo

int main(int argc, char** argv) {
  using namespace spindle;
  using namespace std::chrono_literals;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s PORT_FILE\n", argv[0]);
    return 2;
  }
  runtime::Runtime rt(runtime::Options{.procs = 2});
  rt.run([&] {
    auto l = net::listen("127.0.0.1:0");
    if (!l) {
      std::fprintf(stderr, "listen: %s\n", l.error().message().c_str());
      return;
    }
    debug::DebugHandler debug({.program = "pprof-demo", .metrics = {}, .not_ready = {}});
    http::Server server([&](http::Request& r, http::ResponseWriter& w) { debug(r, w); });
    runtime::go([&] { (void)server.serve(*l); });
    for (const char* worker : {"a", "b"}) {
      runtime::go([worker] {
        runtime::with_labels(runtime::LabelSet{{"worker", worker}}, [worker] {
          for (uint64_t x = 1;; runtime::yield()) {
            x = worker[0] == 'a' ? pprof_demo::hot_loop_a(x) : pprof_demo::hot_loop_b(x);
            pprof_demo::g_sink += x;
          }
        });
      });
    }
    runtime::Chan<int> c = runtime::make_chan<int>();
    runtime::go([&] {
      for (;;) pprof_demo::wait_on_channel(c);
    });
    runtime::go([&] {
      for (int i = 0;; ++i) {
        runtime::sleep_for(10ms);
        c.send(i);
      }
    });
    FILE* f = std::fopen(argv[1], "w");
    std::fprintf(f, "%d\n", l->address().port());
    std::fclose(f);
    runtime::sleep_for(120s);
    std::exit(0);
  });
}
