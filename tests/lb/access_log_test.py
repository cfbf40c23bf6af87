#!/usr/bin/env python3
"""The access log (docs/lb-reference.md, "Access log"): one line per proxied request, as JSON
or nginx's combined layout, reopened on SIGHUP; X-Request-Id taken or made, forwarded and
logged."""
import json
import os
import re
import signal
import tempfile
import unittest

from lbtest import SLOW, LbTestCase, closed_port, request, wait_until

TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"
MADE_ID = r"[0-9a-f]{32}"
COMBINED = re.compile(
    r'(?P<ip>[0-9.]+) - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] '
    r'"(?P<method>\S+) (?P<target>\S+) HTTP/1\.1" (?P<status>\d{3}) (?P<bytes_out>\d+) '
    r'"(?P<referer>[^"]*)" "(?P<ua>[^"]*)" rt=\d+\.\d{6} urt=(?:\d+\.\d{6}|-) '
    r'backend="(?P<backend>[^"]*)" upstream="(?P<url>[^"]*)" bytes_in=(?P<bytes_in>\d+) '
    r'retries=\d+ failovers=\d+ rid="(?P<rid>[^"]*)"$')


class AccessLog(LbTestCase):
    def setUp(self):
        super().setUp()
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.path = os.path.join(self.dir.name, "access.log")

    def lines(self, n, path=None):
        """The first n lines of the log, once they are written."""
        def read():
            try:
                with open(path or self.path) as f:
                    got = f.read().splitlines()
            except FileNotFoundError:
                return None
            return got if len(got) >= n else None
        return wait_until(read, 5 * SLOW, what=f"{n} access log lines")[:n]

    def test_json_lines_match_the_requests(self):
        lb = self.start_lb("--access-log", self.path)
        r = request(lb.addr, "GET", "/none?x=1")
        self.assertEqual(r.status, 503, r.text)
        live = self.start_backend(lb, name="live")
        dead = f"http://127.0.0.1:{closed_port()}"
        self.assertEqual(self.register(lb, dead, name="dead").status, 200)
        self.wait_backends(lb, [live])
        sent = [("GET", "/a", None, {"X-Request-Id": "client-id-1"})]
        sent += [("GET", f"/b{i}", None, {}) for i in range(3)]
        sent += [("POST", "/sink", b"x" * 1000, {"User-Agent": "t/1"})]
        answers = [request(lb.addr, m, p, body=b, headers=h) for m, p, b, h in sent]
        for a in answers:
            self.assertEqual(a.status, 200, a.text)
        entries = [json.loads(line) for line in self.lines(1 + len(sent))]

        first = entries[0]
        self.assertRegex(first["time"], "^" + TIME + "$")
        self.assertEqual((first["method"], first["target"], first["status"]), ("GET", "/none?x=1", 503))
        self.assertEqual((first["backend"], first["backend_url"], first["upstream_seconds"]),
                         ("", "", None))
        self.assertRegex(first["request_id"], "^" + MADE_ID + "$")
        self.assertRegex(first["client"], r"^127\.0\.0\.1:\d+$")
        for (method, path, body, headers), a, e in zip(sent, answers, entries[1:]):
            self.assertEqual((e["method"], e["target"], e["status"]), (method, path, 200), e)
            self.assertEqual(e["backend"], "live", e)
            self.assertEqual(e["backend_url"], live.url, e)
            self.assertEqual(e["bytes_out"], len(a.body), e)
            self.assertEqual(e["bytes_in"], len(body or b""), e)
            self.assertGreater(e["upstream_seconds"], 0, e)
            self.assertGreaterEqual(e["total_seconds"], e["upstream_seconds"], e)
            self.assertEqual(e["retries"], 0, e)
        self.assertEqual(entries[1]["request_id"], "client-id-1")
        made = [e["request_id"] for e in entries[2:]] + [first["request_id"]]
        for rid in made:
            self.assertRegex(rid, "^" + MADE_ID + "$")
        self.assertEqual(len(set(made)), len(made))
        # Round-robin over two backends, one refusing: some requests failed over to "live".
        self.assertTrue(any(e["failovers"] >= 1 for e in entries[1:]), entries)

    def test_request_id_is_forwarded_or_made(self):
        lb = self.start_lb("--access-log", self.path)
        b = self.start_backend(lb, name="b")
        self.wait_backends(lb, [b])

        def forwarded(headers):
            r = request(lb.addr, "GET", "/headers", headers=headers)
            self.assertEqual(r.status, 200, r.text)
            return [v for k, v in r.json() if k.lower() == "x-request-id"]

        self.assertEqual(forwarded({"X-Request-Id": "abc-123"}), ["abc-123"])
        made = forwarded({"X-Request-Id": "x" * 200})  # too long: replaced
        self.assertEqual(len(made), 1)
        self.assertRegex(made[0], "^" + MADE_ID + "$")
        made_too = forwarded({})
        self.assertEqual(len(made_too), 1)
        self.assertNotEqual(made_too, made)
        logged = [json.loads(line)["request_id"] for line in self.lines(3)]
        self.assertEqual(logged, ["abc-123", made[0], made_too[0]])

    def test_combined_format_and_reopen_on_sighup(self):
        lb = self.start_lb("--access-log", self.path, "--access-log-format", "combined")
        b = self.start_backend(lb, name="b")
        self.wait_backends(lb, [b])
        self.assertEqual(request(lb.addr, "GET", "/one", headers={"Referer": "http://r/"}).status,
                         200)
        (line,) = self.lines(1)
        m = COMBINED.match(line)
        self.assertIsNotNone(m, line)
        self.assertEqual((m["ip"], m["method"], m["target"], m["status"]),
                         ("127.0.0.1", "GET", "/one", "200"))
        self.assertEqual((m["referer"], m["backend"], m["url"]), ("http://r/", "b", b.url))
        self.assertRegex(m["rid"], "^" + MADE_ID + "$")

        os.rename(self.path, self.path + ".1")
        self.assertEqual(request(lb.addr, "GET", "/two").status, 200)  # still to the moved file
        self.lines(2, self.path + ".1")
        lb.signal(signal.SIGHUP)
        wait_until(lambda: "access log reopened" in lb.stderr(), 5 * SLOW, what="the reopen")
        self.assertEqual(request(lb.addr, "GET", "/three").status, 200)
        (line,) = self.lines(1)
        self.assertEqual(COMBINED.match(line)["target"], "/three", line)
        old = self.lines(2, self.path + ".1")
        self.assertEqual([COMBINED.match(x)["target"] for x in old], ["/one", "/two"])
        self.assertTrue(lb.alive(), "SIGHUP stopped the balancer")


if __name__ == "__main__":
    unittest.main()
