"""scripts/demo --quick, end to end: spindle-lb, three registering spindle-backends and a
spindle-load ramp through them, with the reports and the scheduler trace printed, the URLs it
prints answering while it lingers, and no process left behind when it ends: by itself, on
Ctrl-C (SIGINT to the script, as a terminal sends it), on SIGTERM, or on failure (its debug
address taken).

The profiling commands it prints follow the debug listener's /debug/pprof/ index, checked
against a fake listener (--pprof-commands).

Each run is started in a session of its own; "left behind" means any process of that session
still running (not a zombie) once the script has exited.

Environment (set by tests/demo/CMakeLists.txt): SPINDLE_BIN, the folder holding
spindle-lb/spindle-lb, spindle-backend/spindle-backend and spindle-load/spindle-load.
"""
import gzip
import http.server
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, "scripts", "demo")
BIN = os.environ.get("SPINDLE_BIN", os.path.join(ROOT, "build", "release", "cmd"))


def session_processes(sid):
    """pid -> command of the live (not zombie) processes in session sid."""
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            found[int(pid)] = stat[stat.index("(") + 1:stat.rindex(")")]
    return found


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.read().decode()


class Demo:
    """scripts/demo in a session of its own; its output (stdout and stderr) read line by line."""

    def __init__(self, *args):
        self.out_dir = tempfile.mkdtemp(prefix="spindle-demo-")
        self.p = subprocess.Popen(
            [DEMO, "--quick", "--bin", BIN, "--out", self.out_dir, "--debug-listen",
             "127.0.0.1:0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            text=True, start_new_session=True)
        self.lines = []
        self._queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern, timeout=60):
        """The first line (from here on) matching pattern; fails at the end of output."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                line = ""
                if time.monotonic() >= deadline:
                    raise AssertionError(f"no line matching {pattern!r} within {timeout}s:\n"
                                         + self.text())
            if line is None:
                raise AssertionError(f"the demo ended without {pattern!r}:\n" + self.text())
            self.lines.append(line)
            if re.search(pattern, line):
                return line

    def finish(self, timeout=60):
        """Exit code, once the demo has exited and its output has been read."""
        try:
            rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the demo still runs after {timeout}s:\n" + self.text())
        while (line := self._queue.get(timeout=10)) is not None:
            self.lines.append(line)
        return rc

    def text(self):
        return "\n".join(self.lines)

    def kill(self):
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait()
        for pid in session_processes(self.p.pid):
            os.kill(pid, signal.SIGKILL)
        self.p.stdout.close()
        shutil.rmtree(self.out_dir, ignore_errors=True)


class FakeDebugListener(http.server.BaseHTTPRequestHandler):
    """A debug listener serving some profiles: a CPU and a block profile (gzipped, as
    profile.proto is), a goroutine dump as text (and ?debug=2), an execution trace in Go's
    format; its index also lists a heap profile that answers 404 and names a mutex profile in
    prose. INDEX picks the index: spindle's text form or Go's HTML links."""
    INDEX = "text"
    TEXT_INDEX = (
        "spindle-lb debug listener\n\n/metrics        Prometheus metrics\n"
        "/debug/pprof/   this index\n/debug/pprof/profile  CPU profile for ?seconds=N\n"
        "/debug/pprof/block    where goroutines waited (SPINDLE_DEBUG=blockprofilerate=NS)\n"
        "/debug/pprof/goroutine  every goroutine\n/debug/pprof/trace  execution trace\n"
        "/debug/pprof/heap  heap\n\nNot served yet: mutex profiles.\n")
    HTML_INDEX = ('<html><body><a href="profile?debug=1">profile</a> '
                  '<a href="block?debug=1">block</a> <a href="goroutine?debug=1">goroutine</a> '
                  '<a href="trace?debug=1">trace</a> <a href="heap?debug=1">heap</a> '
                  '<a href="cmdline?debug=1">cmdline</a></body></html>')

    def do_GET(self):
        path = self.path.split("?")[0]
        body = {
            "/debug/pprof/": (self.TEXT_INDEX if self.INDEX == "text" else self.HTML_INDEX).encode(),
            "/debug/pprof/profile": gzip.compress(b"cpu profile"),
            "/debug/pprof/block": gzip.compress(b"block profile"),
            "/debug/pprof/goroutine": b"goroutine 1 [running]:\n",
            "/debug/pprof/trace": b"go 1.22 trace\x00\x00\x00",
        }.get(path)
        self.send_response(200 if body is not None else 404)
        self.end_headers()
        self.wfile.write(body or b"404 page not found\n")

    def log_message(self, *args):
        pass


class DemoTest(unittest.TestCase):
    def start(self, *args):
        demo = Demo(*args)
        self.addCleanup(demo.kill)
        return demo

    def assert_nothing_left(self, demo):
        left = session_processes(demo.p.pid)
        self.assertEqual(left, {}, "processes the demo left behind")

    def assert_stopped_everything(self, demo, rc):
        self.assertEqual(demo.finish(timeout=30), rc, demo.text())
        self.assertIn("== stopped every process the demo started", demo.text())
        self.assert_nothing_left(demo)

    def test_quick_run_reports_and_ends_by_itself(self):
        demo = self.start("--linger", "0")
        demo.wait_for(r"^   lb \| SCHED \d+ms: gomaxprocs=\d+ ")
        demo.wait_for(r"^--- 1000\.00 req/s for 1s")
        demo.wait_for(r"^Requests +\[total, rate, throughput\] +1000, ")
        demo.wait_for(r"^Ramp summary")
        demo.wait_for(r"^   HTML report +file://")
        demo.wait_for(r"^== up for 0s ")
        self.assert_stopped_everything(demo, 0)
        with open(os.path.join(demo.out_dir, "report.html")) as f:
            self.assertEqual(f.read().count("<svg"), 3)

    def test_what_it_prints_answers_while_it_lingers(self):
        demo = self.start("--linger", "120")
        backends = demo.wait_for(r"^   backends \(admin\) +curl http://").split()[-1]
        metrics = demo.wait_for(r"^   metrics +curl http://").split()[-1]
        demo.wait_for(r"^== up for 120s ")
        # Everything it started runs (lb, 3 backends, the trace filter) and the URLs answer.
        self.assertGreaterEqual(len(session_processes(demo.p.pid)), 5)
        status, body = get(metrics)
        self.assertEqual(status, 200)
        served = re.search(r"^spindle_lb_requests_total (\d+)", body, re.M)
        self.assertIsNotNone(served, body[:2000])
        self.assertGreaterEqual(int(served.group(1)), 1000)
        status, body = get(backends)
        self.assertEqual(body.count('"healthy":true'), 3, body)
        demo.p.send_signal(signal.SIGTERM)  # as kill(1) would
        self.assert_stopped_everything(demo, 143)

    def test_ctrl_c_during_the_ramp_stops_everything(self):
        demo = self.start("--linger", "120")
        demo.wait_for(r"^--- 1000\.00 req/s for 1s")  # the second step is under way
        self.assertGreaterEqual(len(session_processes(demo.p.pid)), 6)
        demo.p.send_signal(signal.SIGINT)
        self.assert_stopped_everything(demo, 130)
        self.assertIn("== interrupted", demo.text())
        # spindle-load, stopped mid-step, still wrote its page.
        with open(os.path.join(demo.out_dir, "report.html")) as f:
            self.assertIn("<svg", f.read())

    def test_profiling_commands_follow_the_index(self):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeDebugListener)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        address = "127.0.0.1:%d" % server.server_address[1]
        base = f"http://{address}/debug/pprof"
        want = [
            f"   go tool pprof '{base}/profile?seconds=10'",
            f"   go tool pprof '{base}/block'",
            "       (recorded only when the program runs with SPINDLE_DEBUG=blockprofilerate=NS)",
            f"   curl -s '{base}/goroutine'",
            f"   curl -s '{base}/goroutine?debug=2'   # every goroutine's stack, as text",
            f"   curl -so trace.out '{base}/trace?seconds=5' && go tool trace trace.out",
        ]
        for index in ("text", "html"):
            FakeDebugListener.INDEX = index
            out = subprocess.run([DEMO, "--pprof-commands", address], stdout=subprocess.PIPE,
                                 text=True, timeout=60, check=True).stdout
            expected = want if index == "text" else [w for w in want if "recorded" not in w]
            self.assertEqual(out.splitlines(), expected, index)

    def test_a_taken_debug_address_fails_clearly(self):
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        self.addCleanup(taken.close)
        address = "127.0.0.1:%d" % taken.getsockname()[1]
        demo = self.start("--debug-listen", address)
        self.assert_stopped_everything(demo, 1)
        self.assertIn(f"scripts/demo: {address} is taken", demo.text())


if __name__ == "__main__":
    unittest.main(verbosity=2)
