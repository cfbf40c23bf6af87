// spindle-echo: spindle's TCP echo server, the twin of bench/peers/go/echo. Each connection
// gets a goroutine that writes back whatever it reads (a plain read/write loop). Prints the
// bound address as the first line of stdout; SIGINT/SIGTERM end it.
//
// Usage: spindle-echo [-listen 127.0.0.1:0]   (processors: SPINDLE_MAXPROCS, default nproc)
#include <cstdio>
#include <cstring>
#include <string>

#include "base/fd_limit.h"
#include "net/conn.h"
#include "net/listener.h"
#include "runtime/runtime.h"

namespace {

using spindle::net::Conn;

void serve(Conn c) {
  char buf[64 * 1024];  // as in the Go peer; pages a short read never touches stay unmapped
  for (;;) {
    auto n = c.read(buf);
    if (!n || *n == 0) return;
    if (!c.write(std::string_view(buf, *n))) return;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen_at = "127.0.0.1:0";
  for (int i = 1; i < argc; ++i) {
    if ((!std::strcmp(argv[i], "-listen") || !std::strcmp(argv[i], "--listen")) && i + 1 < argc) {
      listen_at = argv[++i];
    } else {
      std::fprintf(stderr, "usage: spindle-echo [-listen HOST:PORT]\n");
      return 2;
    }
  }
  int rc = 0;
  std::fprintf(stderr, "spindle-echo: %s\n", spindle::base::raise_fd_limit().describe().c_str());
  spindle::runtime::Runtime rt;
  rt.run([&] {
    auto l = spindle::net::listen(listen_at);
    if (!l) {
      std::fprintf(stderr, "spindle-echo: %s\n", l.error().message().c_str());
      rc = 1;
      return;
    }
    std::printf("%s\n", l->address().to_string().c_str());
    std::fflush(stdout);
    for (;;) {
      auto c = l->accept();  // EMFILE and friends back off inside accept()
      if (!c) {
        std::fprintf(stderr, "spindle-echo: %s\n", c.error().message().c_str());
        rc = 1;
        return;
      }
      spindle::runtime::go([c = std::move(*c)]() mutable { serve(std::move(c)); });
    }
  });
  return rc;
}
