// spindle-hello: spindle's HTTP hello-world server, the twin of bench/peers/go/hello and of
// bench/nginx/hello.conf. Answers every request "Hello, World!\n" (text/plain) with
// keep-alive. Prints the bound address as the first line of stdout; SIGINT/SIGTERM end it.
//
// Usage: spindle-hello [-listen 127.0.0.1:0]   (processors: SPINDLE_MAXPROCS, default nproc)
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include "base/fd_limit.h"
#include "http/server.h"
#include "net/listener.h"
#include "runtime/runtime.h"

int main(int argc, char** argv) {
  std::string listen_at = "127.0.0.1:0";
  for (int i = 1; i < argc; ++i) {
    if ((!std::strcmp(argv[i], "-listen") || !std::strcmp(argv[i], "--listen")) && i + 1 < argc) {
      listen_at = argv[++i];
    } else {
      std::fprintf(stderr, "usage: spindle-hello [-listen HOST:PORT]\n");
      return 2;
    }
  }
  int rc = 0;
  std::fprintf(stderr, "spindle-hello: %s\n", spindle::base::raise_fd_limit().describe().c_str());
  spindle::runtime::Runtime rt;
  rt.run([&] {
    auto l = spindle::net::listen(listen_at);
    if (!l) {
      std::fprintf(stderr, "spindle-hello: %s\n", l.error().message().c_str());
      rc = 1;
      return;
    }
    std::printf("%s\n", l->address().to_string().c_str());
    std::fflush(stdout);
    spindle::http::Server server([](spindle::http::Request&, spindle::http::ResponseWriter& w) {
      (void)w.reply(200, "Hello, World!\n", {{"Content-Type", "text/plain"}});
    });
    auto r = server.serve(*l);
    if (!r) {
      std::fprintf(stderr, "spindle-hello: %s\n", r.error().message().c_str());
      rc = 1;
    }
  });
  return rc;
}
