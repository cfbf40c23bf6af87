"""Shared helpers of the spindle-lb integration tests (python3 stdlib only).

Every test starts real processes on loopback port 0: spindle-lb (SPINDLE_LB), spindle-backend
(SPINDLE_BACKEND) and, where a misbehaving backend is needed, a FakeBackend thread in the test
process. Addresses are read from the processes' first lines of stdout. Nothing sleeps for
correctness: wait_until() polls a condition against a deadline. Every process is killed (and
its stopped state cleared) when its test ends, also on failure.

Environment (set by tests/lb/CMakeLists.txt; set them by hand to run one file):
  SPINDLE_LB, SPINDLE_BACKEND   binaries under test
  SPINDLE_SANITIZE              non-empty in the asan-ubsan and tsan presets: slower processes,
                                so deadlines stretch and the 1 GiB streams shrink to 64 MiB
"""
import http.client
import json
import os
import re
import resource
import select
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

LB_BIN = os.environ.get("SPINDLE_LB", "")
BACKEND_BIN = os.environ.get("SPINDLE_BACKEND", "")
SANITIZED = bool(os.environ.get("SPINDLE_SANITIZE", ""))
# Processes under sanitizers run several times slower: stretch start-up and request deadlines
# (never the contract's own bounds, which are checked with a fixed small slack).
SLOW = 4.0 if SANITIZED else 1.0
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "WARNING: ThreadSanitizer")
ADDR_RE = re.compile(r"((?:\d{1,3}\.){3}\d{1,3}|\[[0-9a-fA-F:.%]+\]):(\d+)")


def wait_until(predicate, timeout, interval=0.02, what="condition"):
    """Polls predicate() until it returns a true value (returned) or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for {what}")
        time.sleep(interval)


class Proc:
    """A child process whose first printed host:port is its address; stderr kept in a file."""

    def __init__(self, args, name, env=None, expect_address=True, nofile=None):
        """nofile: (soft, hard) RLIMIT_NOFILE to start the process with."""
        self.name = name
        self.args = args
        self.err_file = tempfile.NamedTemporaryFile(prefix=f"{name}-", suffix=".err", delete=False)
        full_env = dict(os.environ)
        if env:
            full_env.update(env)

        def limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, nofile)

        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.err_file,
                                  stdin=subprocess.DEVNULL, env=full_env,
                                  preexec_fn=limit if nofile else None)
        self.stderr_at_exit = ""
        self.addr = self._read_address(10 * SLOW) if expect_address else None
        self.url = f"http://{self.addr}" if self.addr else None

    def _read_address(self, timeout):
        deadline = time.monotonic() + timeout
        buf = b""
        fd = self.p.stdout.fileno()
        while time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not r:
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            buf += chunk
            for line in buf.decode(errors="replace").splitlines():
                m = ADDR_RE.search(line)
                if m:
                    self.address_line = line
                    return f"{m.group(1)}:{m.group(2)}"
        self.kill()
        raise AssertionError(f"{self.name} printed no address within {timeout:.0f}s "
                             f"(stdout {buf[:200]!r}, stderr {self.stderr()[-2000:]!r})")

    @property
    def pid(self):
        return self.p.pid

    def alive(self):
        return self.p.poll() is None

    def signal(self, sig):
        if self.alive():
            os.kill(self.p.pid, sig)

    def wait(self, timeout):
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name} still running after {timeout:.1f}s")

    def stderr(self):
        with open(self.err_file.name, errors="replace") as f:
            return f.read()

    def rss_kib(self):
        with open(f"/proc/{self.p.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def kill(self):
        if self.alive():
            self.p.send_signal(signal.SIGKILL)  # works on a SIGSTOPped process too
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if self.err_file.closed:
            return
        self.stderr_at_exit = self.stderr()
        if self.p.stdout:
            self.p.stdout.close()
        self.err_file.close()
        try:
            os.unlink(self.err_file.name)
        except OSError:
            pass


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    @property
    def text(self):
        return self.body.decode(errors="replace")

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        return self.headers.get(name)


def request(addr, method="GET", path="/", body=None, headers=None, timeout=10.0, conn=None):
    """One request (on conn if given, else a new connection closed after it)."""
    own = conn is None
    if own:
        host, port = addr.rsplit(":", 1)
        conn = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=timeout * SLOW)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return Response(r.status, r.headers, r.read())
    finally:
        if own:
            conn.close()


def connection(addr, timeout=10.0):
    host, port = addr.rsplit(":", 1)
    return http.client.HTTPConnection(host.strip("[]"), int(port), timeout=timeout * SLOW)


def closed_port():
    """A loopback port nobody listens on (bound, then closed: connect is refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def name_of(resp):
    """The backend that answered: spindle-backend says "hello from NAME"."""
    m = re.match(r"hello from (\S+)", resp.text)
    return m.group(1) if m else None


class FakeBackend:
    """An HTTP/1.1 backend in a thread whose misbehaviour the test chooses, per request:
    behave(n) gets the request's index (0-based) and returns "ok" (200 "hello from NAME"),
    "reset" (RST before any response byte), "garbage" (a response that is not HTTP),
    "hang" (no answer until the test ends), "partial" (half a head, then RST), "close" (200,
    then FIN although keep-alive was not refused: the keep-alive race) or "desync" (a 200 whose
    body is followed by the bytes of a second, unrequested response) or "gzip-te" (a 200
    whose body is chunked and gzip transfer-coded, which a re-framing proxy must refuse).
    Bytes instead of a name are sent as the whole answer, then the connection is closed."""

    def __init__(self, name, behave):
        self.name = name
        self.behave = behave
        self.requests = 0
        self.connections = 0
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.url = "http://" + self.addr
        self.stopping = threading.Event()
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _read_request(self, c, buf):
        while b"\r\n\r\n" not in buf:
            chunk = c.recv(65536)
            if not chunk:
                return None, b""
            buf += chunk
        head, rest = buf.split(b"\r\n\r\n", 1)
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v.strip())
        while len(rest) < length:
            chunk = c.recv(65536)
            if not chunk:
                return None, b""
            rest += chunk
        return head, rest[length:]

    def _serve(self, c):
        buf = b""
        try:
            while True:
                head, buf = self._read_request(c, buf)
                if head is None:
                    return
                with self.lock:
                    n = self.requests
                    self.requests += 1
                action = self.behave(n)
                if isinstance(action, bytes):
                    c.sendall(action)
                    c.close()
                    return
                body = f"hello from {self.name}\n".encode()
                ok = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
                if action == "ok":
                    c.sendall(ok)
                    continue
                if action == "close":
                    c.sendall(ok)
                    c.close()
                    return
                if action == "gzip-te":
                    c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                              b"4\r\n\x1f\x8b\x08\x00\r\n0\r\n\r\n")
                    continue
                if action == "desync":
                    c.sendall(ok + b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled")
                    continue
                if action == "garbage":
                    c.sendall(b"THIS IS NOT HTTP\r\n\r\n")
                elif action == "partial":
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Le")
                elif action == "hang":
                    self.stopping.wait()
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                c.close()
                return
        except OSError:
            return

    def close(self):
        self.stopping.set()
        self.sock.close()
        with self.lock:
            for c in self.conns:
                try:
                    c.close()
                except OSError:
                    pass


class LbTestCase(unittest.TestCase):
    """Starts processes that are killed at the end of each test."""

    def setUp(self):
        if not LB_BIN or not BACKEND_BIN:
            self.skipTest("SPINDLE_LB and SPINDLE_BACKEND must name the binaries")
        self.procs = []

    def tearDown(self):
        reports = []
        for p in reversed(self.procs):
            p.kill()
            text = p.stderr_at_exit
            for marker in SANITIZER_MARKERS:
                at = text.find(marker)
                if at >= 0:
                    reports.append(f"{p.name} (pid {p.pid}):\n{text[at:at + 3000]}")
                    break
        if reports:
            self.fail("sanitizer report in a child process:\n" + "\n".join(reports))

    def start_lb(self, *flags, listen="127.0.0.1:0", env=None, expect_address=True):
        """spindle-lb; .admin_addr/.admin_url name where its API is (the traffic listener, or
        --admin-listen's, printed as "admin HOST:PORT"), .token its registration token."""
        args = [LB_BIN, "--listen", listen, "--debug-listen", "off", *flags]
        p = Proc(args, "spindle-lb", env=env, expect_address=expect_address)
        self.procs.append(p)
        p.admin_addr = p.addr
        m = re.search(r"admin " + ADDR_RE.pattern, getattr(p, "address_line", ""))
        if m:
            p.admin_addr = f"{m.group(1)}:{m.group(2)}"
        p.admin_url = f"http://{p.admin_addr}"
        p.token = (env or {}).get("SPINDLE_REGISTER_TOKEN")
        if "--register-token" in flags:
            p.token = flags[flags.index("--register-token") + 1]
        return p

    def start_backend(self, lb=None, *flags, name=None):
        """spindle-backend without a debug listener unless flags give one."""
        args = [BACKEND_BIN]
        if "--debug-listen" not in flags:
            args += ["--debug-listen", "off"]
        if lb is not None:
            args += ["--lb", getattr(lb, "admin_url", lb.url)]
        if name:
            args += ["--name", name]
        p = Proc(args + list(flags), name or "spindle-backend")
        p.backend_name = name or "backend-" + p.addr.rsplit(":", 1)[1]
        self.procs.append(p)
        return p

    def fake_backend(self, name, behave):
        f = FakeBackend(name, behave)
        self.addCleanup(f.close)
        return f

    # Admin API.
    def admin(self, lb, path, payload, token=None, raw=None):
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = "Bearer " + token
        body = raw if raw is not None else json.dumps(payload)
        return request(lb.admin_addr, "POST", path, body=body, headers=headers)

    def register(self, lb, url, name=None, token=None):
        payload = {"url": url}
        if name:
            payload["name"] = name
        return self.admin(lb, "/_lb/register", payload, token)

    def backends(self, lb):
        headers = {"Authorization": "Bearer " + lb.token} if lb.token else {}
        r = request(lb.admin_addr, "GET", "/_lb/backends", headers=headers)
        self.assertEqual(r.status, 200, r.text)
        return r.json()

    def backend_entry(self, lb, url):
        for b in self.backends(lb):
            if b.get("url", "").rstrip("/") == url.rstrip("/"):
                return b
        return None

    def routable(self, lb, url):
        """Listed and healthy."""
        b = self.backend_entry(lb, url)
        return b is not None and b.get("healthy") is True

    def wait_backends(self, lb, backends, timeout=5.0):
        """Waits until every spindle-backend in `backends` is registered and healthy."""
        wait_until(lambda: all(self.routable(lb, b.url) for b in backends), timeout * SLOW,
                   what=f"{len(backends)} backends registered and healthy")

    def stats(self, backend):
        return request(backend.addr, "GET", "/_stats").json()

    def lb_with_backends(self, n, *lb_flags, backend_flags=()):
        lb = self.start_lb(*lb_flags)
        bs = [self.start_backend(lb, *backend_flags, name=f"b{i}") for i in range(n)]
        self.wait_backends(lb, bs)
        return lb, bs


def in_threads(n, fn):
    """Runs fn(i) for i in range(n) in threads; returns the results (exceptions re-raised)."""
    results, errors = [None] * n, []

    def run(i):
        try:
            results[i] = fn(i)
        except Exception as e:  # noqa: BLE001 - reported to the test
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results
