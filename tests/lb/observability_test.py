"""The debug listener of spindle-lb and spindle-backend: /healthz, /ready, /metrics in the
Prometheus text format (checked by promtool and scraped by a real Prometheus server, both from
Debian's prometheus package, installed by scripts/ensure-packages when missing), --version."""
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import unittest
import urllib.parse
import urllib.request

from lbtest import (BACKEND_BIN, LB_BIN, SLOW, LbTestCase, Proc, closed_port, request,
                    wait_until)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def ensure_prometheus():
    if shutil.which("promtool") and shutil.which("prometheus"):
        return
    subprocess.run([os.path.join(REPO, "scripts", "ensure-packages"), "prometheus"], check=True,
                   stdout=subprocess.DEVNULL)


def samples(text):
    """{(name, labels-text): value} of a metrics page."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)", line)
        assert m, f"not a sample line: {line!r}"
        out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


class Observability(LbTestCase):
    def start_lb_with_debug(self, *flags):
        lb = Proc([LB_BIN, "--listen", "127.0.0.1:0", "--debug-listen", "127.0.0.1:0", *flags],
                  "spindle-lb")
        self.procs.append(lb)
        lb.debug = re.search(r"debug (\S+)\)", lb.address_line).group(1)
        lb.admin_addr, lb.token = lb.addr, None  # the API on --listen, no token
        return lb

    def promtool_check(self, text):
        r = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, f"promtool: {r.stdout!r} {r.stderr!r}")

    def test_health_readiness_and_metrics_of_the_lb(self):
        ensure_prometheus()
        lb = self.start_lb_with_debug()
        self.assertEqual(request(lb.debug, "GET", "/healthz").text, "ok\n")
        r = request(lb.debug, "GET", "/ready")
        self.assertEqual((r.status, r.text), (503, "not ready: no healthy backend\n"))
        b = self.start_backend(lb, name="alpha")
        wait_until(lambda: request(lb.debug, "GET", "/ready").status == 200, 10 * SLOW,
                   what="ready once a backend registered")
        for _ in range(7):
            self.assertEqual(request(lb.addr).status, 200)
        page = request(lb.debug, "GET", "/metrics")
        self.assertTrue(page.header("Content-Type").startswith("text/plain; version=0.0.4"))
        self.promtool_check(page.text)
        m = samples(page.text)
        labels = f'{{backend="alpha",url="{b.url}"}}'
        self.assertEqual(m[("spindle_lb_backend_requests_total", labels)], 7)
        self.assertEqual(m[("spindle_lb_backend_healthy", labels)], 1)
        self.assertEqual(m[("spindle_lb_requests_total", "")], 7)
        self.assertEqual(m[("spindle_lb_request_duration_seconds_count", "")], 7)
        self.assertEqual(m[("spindle_lb_request_duration_seconds_bucket", '{le="+Inf"}')], 7)
        for name in ("upstream", "request"):
            family = f"spindle_lb_backend_{name}_duration_seconds"
            self.assertEqual(m[(family + "_count", labels)], 7)
            self.assertEqual(m[(family + "_bucket", labels[:-1] + ',le="+Inf"}')], 7)
            self.assertGreater(m[(family + "_sum", labels)], 0)
        self.assertGreaterEqual(m[("spindle_runtime_goroutines", "")], 1)
        self.assertGreater(m[("process_open_fds", "")], 3)
        self.assertGreater(m[("process_resident_memory_bytes", "")], 1 << 20)
        self.assertIn("Not served yet:", request(lb.debug, "GET", "/debug/pprof/").text)

    def test_answers_connections_and_registrations_are_counted(self):
        """Exact counts after real requests: answers by method and status class (the
        backends' and the balancer's own), per backend, upstream connections, registrations,
        heartbeats and deregistrations."""
        ensure_prometheus()
        # Heartbeats only as the test sends them: no backend can miss one meanwhile.
        lb = self.start_lb_with_debug("--heartbeat-timeout", "1h", "--max-body-size", "4")
        self.assertEqual(request(lb.addr).status, 503)  # no backend yet
        alpha = self.start_backend(None, name="alpha")
        beta = self.start_backend(None, "--fail-ratio", "1", name="beta")
        self.assertEqual(self.register(lb, alpha.url, name="alpha").status, 200)
        for _ in range(5):
            self.assertEqual(request(lb.addr).status, 200)
        self.assertEqual(request(lb.addr, "POST", body=b"data").status, 200)
        self.assertEqual(request(lb.addr, "HEAD").status, 200)
        self.assertEqual(request(lb.addr, "POST", body=b"too large").status, 413)
        self.assertEqual(self.register(lb, beta.url, name="beta").status, 200)
        self.assertEqual(sorted(request(lb.addr).status for _ in range(2)), [200, 500])
        for b in (alpha, beta):
            self.assertEqual(self.admin(lb, "/_lb/heartbeat", {"url": b.url}).status, 204)
        self.assertEqual(self.register(lb, alpha.url).status, 200)  # a known URL: a heartbeat
        # A malformed head is answered by the HTTP server before the proxy sees a request.
        with socket.create_connection(lb.addr.rsplit(":", 1)) as c:
            c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n")
            self.assertTrue(c.makefile("rb").readline().startswith(b"HTTP/1.1 400 "))

        page = request(lb.debug, "GET", "/metrics").text
        self.promtool_check(page)
        m = samples(page)

        def responses(method, code):
            return m[("spindle_lb_responses_total", f'{{method="{method}",code="{code}"}}')]

        for method, codes in (("GET", (6, 0, 0, 2)), ("HEAD", (1, 0, 0, 0)),
                              ("POST", (1, 0, 1, 0)), ("PUT", (0, 0, 0, 0)),
                              ("DELETE", (0, 0, 0, 0)), ("OTHER", (0, 0, 0, 0))):
            got = tuple(responses(method, c) for c in ("2xx", "3xx", "4xx", "5xx"))
            self.assertEqual(got, codes, method)
        self.assertEqual(m[("spindle_lb_requests_total", "")], 11)
        self.assertEqual(m[("spindle_lb_client_requests_refused_total", "")], 1)
        a = f'backend="alpha",url="{alpha.url}"'
        b = f'backend="beta",url="{beta.url}"'
        for labels, codes in ((a, (8, 0, 0, 0)), (b, (0, 0, 0, 1))):
            got = tuple(m[("spindle_lb_backend_responses_total", f'{{{labels},code="{c}"}}')]
                        for c in ("2xx", "3xx", "4xx", "5xx"))
            self.assertEqual(got, codes, labels)
        # Keep-alive upstream: one connection to alpha carried its 8 requests.
        self.assertEqual(m[("spindle_lb_backend_connections_opened_total", f"{{{a}}}")], 1)
        self.assertEqual(m[("spindle_lb_backend_reuses_total", f"{{{a}}}")], 7)
        self.assertEqual(m[("spindle_lb_backend_idle_connections", f"{{{a}}}")], 1)
        self.assertEqual(m[("spindle_lb_backend_in_use_connections", f"{{{a}}}")], 0)
        self.assertEqual(m[("spindle_lb_backend_connections_opened_total", f"{{{b}}}")], 1)
        self.assertEqual(m[("spindle_lb_upstream_connections_opened_total", "")], 2)
        self.assertEqual(m[("spindle_lb_upstream_reuses_total", "")], 7)
        self.assertEqual(m[("spindle_lb_upstream_retries_total", "")], 0)
        self.assertEqual(m[("spindle_lb_registrations_total", "")], 2)
        self.assertEqual(m[("spindle_lb_heartbeats_total", "")], 3)
        self.assertEqual(m[("spindle_lb_heartbeats_missed_total", "")], 0)
        self.assertEqual(m[("spindle_lb_deregistrations_total", "")], 0)

        self.assertEqual(self.admin(lb, "/_lb/deregister", {"url": beta.url}).status, 204)
        m = samples(request(lb.debug, "GET", "/metrics").text)
        self.assertEqual(m[("spindle_lb_deregistrations_total", "")], 1)
        self.assertNotIn(("spindle_lb_backend_responses_total", f'{{{b},code="5xx"}}'), m)
        # The removed backend's connections still count in the totals.
        self.assertEqual(m[("spindle_lb_upstream_connections_opened_total", "")], 2)

    def test_a_silent_backend_is_a_missed_heartbeat_and_an_expiry(self):
        lb = self.start_lb_with_debug("--heartbeat-timeout", "200ms")
        ghost = f"http://127.0.0.1:{closed_port()}"
        self.assertEqual(self.register(lb, ghost, name="ghost").status, 200)

        def expired():
            m = samples(request(lb.debug, "GET", "/metrics").text)
            return m if m[("spindle_lb_expirations_total", "")] > 0 else None

        m = wait_until(expired, 10 * SLOW, what="the silent backend to expire")
        self.assertEqual(m[("spindle_lb_expirations_total", "")], 1)
        self.assertEqual(m[("spindle_lb_heartbeats_missed_total", "")], 1)
        self.assertEqual(m[("spindle_lb_registrations_total", "")], 1)
        self.assertEqual(m[("spindle_lb_heartbeats_total", "")], 0)

    def test_admin_listener_answers_health_but_shows_no_metrics(self):
        lb = self.start_lb_with_debug("--admin-listen", "127.0.0.1:0")
        admin = re.search(r"admin (\S+),", lb.address_line).group(1)
        self.assertEqual(request(admin, "GET", "/healthz").status, 200)
        self.assertEqual(request(admin, "GET", "/ready").status, 503)
        self.assertEqual(request(admin, "GET", "/metrics").status, 404)

    def test_backend_debug_listener(self):
        ensure_prometheus()
        b = self.start_backend(None, "--debug-listen", "127.0.0.1:0", name="beta")
        debug = wait_until(lambda: re.search(r"debug listener on (\S+)", b.stderr()),
                           10 * SLOW, what="the backend's debug address").group(1)
        self.assertEqual(request(debug, "GET", "/healthz").status, 200)
        self.assertEqual(request(debug, "GET", "/ready").status, 200)
        self.promtool_check(request(debug, "GET", "/metrics").text)

    def test_version(self):
        for binary, name in ((LB_BIN, "spindle-lb"), (BACKEND_BIN, "spindle-backend")):
            r = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0)
            self.assertRegex(r.stdout, rf"^{name} \d+\.\d+\.\d+\n$")

    def test_prometheus_scrapes_the_lb(self):
        """A real Prometheus server scrapes spindle-lb; PromQL over its HTTP API returns the
        per-backend request counter and latency quantiles, overall and per backend."""
        ensure_prometheus()
        lb = self.start_lb_with_debug()
        self.start_backend(lb, name="gamma")
        wait_until(lambda: request(lb.debug, "GET", "/ready").status == 200, 10 * SLOW,
                   what="a registered backend")
        for _ in range(20):
            self.assertEqual(request(lb.addr).status, 200)
        work = tempfile.mkdtemp(prefix="spindle-prom-")
        self.addCleanup(shutil.rmtree, work, True)
        with open(os.path.join(work, "prometheus.yml"), "w") as f:
            f.write("global:\n  scrape_interval: 1s\nscrape_configs:\n"
                    f"  - job_name: spindle-lb\n    static_configs:\n"
                    f"      - targets: ['{lb.debug}']\n")
        prom = Proc(["prometheus", f"--config.file={work}/prometheus.yml",
                     f"--storage.tsdb.path={work}/data", "--web.listen-address=127.0.0.1:0"],
                    "prometheus", expect_address=False)
        self.procs.append(prom)
        # Prometheus logs the address it listens on.
        api = wait_until(lambda: re.search(r'msg="Listening on" address=(\S+)', prom.stderr()),
                         60, what="prometheus listening").group(1)

        def query(q):
            url = f"http://{api}/api/v1/query?" + urllib.parse.urlencode({"query": q})
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    result = json.load(r)["data"]["result"]
            except OSError:
                return None
            return result or None

        rows = wait_until(lambda: query('spindle_lb_backend_requests_total{backend="gamma"}'),
                          60, interval=0.5, what="the per-backend counter in Prometheus")
        self.assertEqual(float(rows[0]["value"][1]), 20)
        q = wait_until(lambda: query(
            "histogram_quantile(0.99, spindle_lb_request_duration_seconds_bucket)"),
            60, interval=0.5, what="a latency quantile in Prometheus")
        self.assertGreater(float(q[0]["value"][1]), 0)
        self.assertLess(float(q[0]["value"][1]), 10)
        rows = wait_until(lambda: query(
            "histogram_quantile(0.9, sum by (backend, le) "
            "(spindle_lb_backend_upstream_duration_seconds_bucket))"),
            60, interval=0.5, what="a per-backend latency quantile in Prometheus")
        self.assertEqual(rows[0]["metric"], {"backend": "gamma"})
        self.assertGreater(float(rows[0]["value"][1]), 0)
        self.assertLess(float(rows[0]["value"][1]), 10)


if __name__ == "__main__":
    unittest.main(verbosity=2)
