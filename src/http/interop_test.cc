// Real peers: curl and Python's http.client against spindle's Server, and spindle's Client
// against Python's http.server (HTTP/1.1, keep-alive). Each peer is a child process started
// by the test; processes are waited for inside runtime::blocking().
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "http/client.h"
#include "http/test_server.h"
#include "runtime/blocking.h"
#include "runtime/testing.h"

extern char** environ;

namespace spindle::http {
namespace {

using testing::TestServer;

class InteropTest : public runtime::testing::RuntimeTest {};

// Runs a shell command to completion; its stdout.
std::string run_command(const std::string& cmd) {
  return runtime::blocking([&] {
    std::string out;
    FILE* f = popen(cmd.c_str(), "r");
    if (f == nullptr) return out;
    char buf[4096];
    for (std::size_t n; (n = fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
    pclose(f);
    return out;
  });
}

void echo_handler(Request& r, ResponseWriter& w) {
  std::string body = std::string(r.method_token()) + " " + std::string(r.target()) + " ";
  for (;;) {
    auto piece = r.body().next();
    if (!piece || piece->empty()) break;
    body += *piece;
  }
  (void)w.reply(200, body, {{"Content-Type", "text/plain"}});
}

TEST_P(InteropTest, CurlReusesConnection) {
  if (procs() != 2) GTEST_SKIP() << "peer processes: one processor count is enough";
  run([] {
    TestServer s(echo_handler);
    std::string base = "http://" + s.address();
    std::string out = run_command("curl -sS --max-time 10 " + base + "/a " + base + "/b -d hi");
    EXPECT_EQ(out, "POST /a hiPOST /b hi");
    std::string head = run_command("curl -sS -I --max-time 10 " + base + "/h");
    EXPECT_EQ(head.rfind("HTTP/1.1 200 OK", 0), 0u) << head;
    s.stop();
    EXPECT_EQ(s.server.stats().accepted, 2u) << "curl reused its connection for /b";
    EXPECT_EQ(s.server.stats().requests, 3u);
  });
}

TEST_P(InteropTest, PythonHttpClientKeepAliveAndChunked) {
  if (procs() != 2) GTEST_SKIP() << "peer processes: one processor count is enough";
  run([] {
    TestServer s(echo_handler);
    std::string port = std::to_string(s.l->address().port());
    std::string script =
        "import http.client as h\n"
        "c = h.HTTPConnection('127.0.0.1', " +
        port +
        ", timeout=10)\n"
        "for i in range(3):\n"
        "    c.request('PUT', '/p%d' % i, body=b'xyz')\n"
        "    r = c.getresponse(); print(r.status, r.read().decode())\n"
        "c.request('POST', '/chunked', body=iter([b'ab', b'cd']), encode_chunked=True,\n"
        "          headers={'Transfer-Encoding': 'chunked'})\n"
        "r = c.getresponse(); print(r.status, r.read().decode())\n";
    std::string out = run_command("python3 -c \"" + script + "\"");
    EXPECT_EQ(out, "200 PUT /p0 xyz\n200 PUT /p1 xyz\n200 PUT /p2 xyz\n200 POST /chunked abcd\n");
    s.stop();
    EXPECT_EQ(s.server.stats().accepted, 1u);
  });
}

// A Python http.server child on a free port; prints the port, killed at the end.
struct PythonServer {
  pid_t pid = -1;
  int port = 0;
  PythonServer() {
    const char* script =
        "import http.server, sys\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    protocol_version = 'HTTP/1.1'\n"
        "    def do_GET(self):\n"
        "        b = ('python says ' + self.path).encode()\n"
        "        self.send_response(200); self.send_header('Content-Length', str(len(b)))\n"
        "        self.end_headers(); self.wfile.write(b)\n"
        "    def log_message(self, *a): pass\n"
        "s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)\n"
        "print(s.server_address[1], flush=True)\n"
        "s.serve_forever()\n";
    int fds[2];
    if (pipe(fds) != 0) return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    const char* argv[] = {"python3", "-c", script, nullptr};
    posix_spawnp(&pid, "python3", &fa, nullptr, const_cast<char**>(argv), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    runtime::blocking([&] {
      FILE* f = fdopen(fds[0], "r");
      if (fscanf(f, "%d", &port) != 1) port = 0;
      fclose(f);
    });
  }
  ~PythonServer() {
    if (pid <= 0) return;
    kill(pid, SIGTERM);
    runtime::blocking([&] { waitpid(pid, nullptr, 0); });
  }
};

TEST_P(InteropTest, ClientAgainstPythonHttpServer) {
  if (procs() != 2) GTEST_SKIP() << "peer processes: one processor count is enough";
  run([] {
    PythonServer py;
    ASSERT_GT(py.port, 0);
    std::string addr = "127.0.0.1:" + std::to_string(py.port);
    Client client;
    for (int i = 0; i < 5; ++i) {
      ClientRequest req;
      std::string target = "/x" + std::to_string(i);
      req.target = target;
      auto r = client.send(addr, req);
      ASSERT_TRUE(r.ok()) << r.error().message();
      std::string body;
      for (;;) {
        auto piece = r->body().next();
        ASSERT_TRUE(piece.ok());
        if (piece->empty()) break;
        body += *piece;
      }
      EXPECT_EQ(body, "python says " + target);
    }
    EXPECT_EQ(client.pool(addr).stats().new_connections, 1u);
    EXPECT_EQ(client.pool(addr).stats().reuses, 4u);
  });
}

SPINDLE_INSTANTIATE_PROCS(InteropTest);

}  // namespace
}  // namespace spindle::http
