#!/usr/bin/env python3
"""Proxying (docs/lb-reference.md, "Proxying"): hop-by-hop fields removed before the forwarding
fields are added (a client's Connection header cannot strip them: CVE-2024-45410), X-Forwarded-*
and Via, upstream connection reuse counted at the backend, and curl as a client."""
import json
import os
import re
import subprocess
import tempfile
import unittest

from lbtest import LB_BIN, SLOW, LbTestCase, Proc, connection, in_threads, name_of, request

HOP_BY_HOP = ("connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade",
              "proxy-authorization", "proxy-connection")


def fields_seen(resp):
    """The backend's /headers answer: [(lower-case name, value), ...]."""
    return [(k.lower(), v) for k, v in resp.json()]


def values(fields, name):
    return [v for k, v in fields if k == name]


class Headers(LbTestCase):
    def setUp(self):
        super().setUp()
        self.lb, (self.b,) = self.lb_with_backends(1)

    def test_hop_by_hop_fields_removed(self):
        r = request(self.lb.addr, "GET", "/headers", headers={
            "Connection": "X-Secret, Keep-Alive", "X-Secret": "drop me", "Keep-Alive": "timeout=5",
            "TE": "trailers", "Trailer": "X-T", "Upgrade": "h2c", "Proxy-Authorization": "Basic x",
            "Proxy-Connection": "keep-alive", "X-End-To-End": "keep me"})
        self.assertEqual(r.status, 200, r.text)
        seen = fields_seen(r)
        names = {k for k, _ in seen}
        for hop in HOP_BY_HOP[1:]:
            self.assertNotIn(hop, names, f"{hop} forwarded: {seen}")
        self.assertNotIn("x-secret", names, f"a field the client's Connection named: {seen}")
        for v in values(seen, "connection"):  # the LB's own Connection to the backend, if any
            self.assertNotIn("x-secret", v.lower())
        self.assertEqual(values(seen, "x-end-to-end"), ["keep me"])

    def test_forwarding_fields_added(self):
        r = request(self.lb.addr, "GET", "/headers", headers={"Host": "shop.example:8080"})
        seen = fields_seen(r)
        self.assertEqual(", ".join(values(seen, "x-forwarded-for")), "127.0.0.1")
        self.assertEqual(values(seen, "x-forwarded-proto"), ["http"])
        self.assertEqual(values(seen, "x-forwarded-host"), ["shop.example:8080"])
        self.assertTrue(values(seen, "via"), f"no Via: {seen}")
        self.assertTrue(values(seen, "via")[-1].startswith("1.1 "), values(seen, "via"))

    def test_absolute_form_target(self):
        # RFC 9112 §3.2.2: the target's authority wins over Host; upstream gets origin-form.
        r = request(self.lb.addr, "GET", "http://shop.example:8080/headers?x=1",
                    headers={"Host": "other.test"})
        self.assertEqual(r.status, 200, r.text)
        seen = fields_seen(r)
        self.assertEqual(values(seen, "host"), ["shop.example:8080"], seen)
        self.assertEqual(values(seen, "x-forwarded-host"), ["shop.example:8080"], seen)
        for bad in ("ftp://shop.example/headers", "http://user:pw@shop.example/headers"):
            r = request(self.lb.addr, "GET", bad, headers={"Host": "other.test"})
            self.assertEqual(r.status, 400, f"{bad}: {r.status} {r.text}")

    def test_x_forwarded_for_appended(self):
        r = request(self.lb.addr, "GET", "/headers", headers={"X-Forwarded-For": "10.1.2.3"})
        xff = [p.strip() for v in values(fields_seen(r), "x-forwarded-for") for p in v.split(",")]
        self.assertEqual(xff, ["10.1.2.3", "127.0.0.1"])

    def test_client_connection_header_cannot_strip_forwarding_fields(self):
        r = request(self.lb.addr, "GET", "/headers", headers={
            "Connection": "X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host, Via",
            "X-Forwarded-For": "10.9.9.9"})
        seen = fields_seen(r)
        xff = [p.strip() for v in values(seen, "x-forwarded-for") for p in v.split(",")]
        self.assertEqual(xff[-1:], ["127.0.0.1"], f"X-Forwarded-For stripped: {seen}")
        self.assertNotIn("10.9.9.9", xff, "a field the client's Connection named was forwarded")
        self.assertEqual(values(seen, "x-forwarded-proto"), ["http"], seen)
        self.assertTrue(values(seen, "x-forwarded-host"), seen)
        self.assertTrue(values(seen, "via"), seen)

    def test_response_hop_by_hop_not_returned_and_end_to_end_kept(self):
        r = request(self.lb.addr, "GET", "/")
        self.assertEqual(r.header("X-Backend-Name"), "b0")
        self.assertIsNone(r.header("Keep-Alive"))


class ConnectionReuse(LbTestCase):
    def test_steady_load_reuses_upstream_connections(self):
        lb, (b,) = self.lb_with_backends(1)
        before = self.stats(b)["accepted"]  # counts the /_stats connection itself
        clients, per_client = 4, 100

        def client(i):
            conn = connection(lb.addr)
            ok = sum(request(lb.addr, conn=conn).status == 200 for _ in range(per_client))
            conn.close()
            return ok

        self.assertEqual(sum(in_threads(clients, client)), clients * per_client)
        opened = self.stats(b)["accepted"] - before - 1  # minus this /_stats connection
        self.assertLessEqual(opened, 2 * clients,
                             f"{opened} upstream connections for {clients * per_client} requests")

    def test_new_client_connections_still_reuse_upstream(self):
        lb, (b,) = self.lb_with_backends(1)
        before = self.stats(b)["accepted"]
        for _ in range(100):  # a new client connection per request
            self.assertEqual(request(lb.addr).status, 200)
        opened = self.stats(b)["accepted"] - before - 1
        self.assertLessEqual(opened, 3, f"{opened} upstream connections for 100 requests")


class Curl(LbTestCase):
    def curl(self, *args, stdin=None):
        p = subprocess.run(["curl", "-sS", "--max-time", str(int(20 * SLOW)), *args],
                           capture_output=True, input=stdin, timeout=30 * SLOW)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        return p.stdout

    def test_curl_get_head_http10_and_keepalive(self):
        lb, bs = self.lb_with_backends(2)
        self.assertIn(b"hello from b", self.curl(f"{lb.url}/"))
        out = self.curl("-I", f"{lb.url}/")
        self.assertTrue(out.startswith(b"HTTP/1.1 200"), out)
        self.assertIn(b"hello from b", self.curl("--http1.0", f"{lb.url}/"))
        out = self.curl(f"{lb.url}/", f"{lb.url}/", f"{lb.url}/", f"{lb.url}/")
        self.assertEqual(out.count(b"hello from b0"), 2, out)
        self.assertEqual(out.count(b"hello from b1"), 2, out)

    def test_curl_uploads_chunked_and_with_expect_100(self):
        lb, _ = self.lb_with_backends(1)
        data = os.urandom(3 * 1024 * 1024)
        with tempfile.NamedTemporaryFile() as f:
            f.write(data)
            f.flush()
            out = self.curl("-H", "Transfer-Encoding: chunked", "--data-binary", f"@{f.name}",
                            f"{lb.url}/echo")
            self.assertEqual(out, data)
            out = self.curl("-H", "Expect: 100-continue", "-T", f.name, f"{lb.url}/echo")
            self.assertEqual(out, data)

    def test_curl_json_admin(self):
        lb, bs = self.lb_with_backends(1)
        listed = json.loads(self.curl(f"{lb.url}/_lb/backends"))
        self.assertEqual([b["name"] for b in listed], ["b0"])


class DebugListener(LbTestCase):
    def test_metrics_count_requests_and_runtime(self):
        """The debug listener's /metrics (a few counters as text): the
        request counter follows the traffic and the runtime's counters are there."""
        b = self.start_backend(name="m")
        lb = Proc([LB_BIN, "--listen", "127.0.0.1:0", "--debug-listen", "127.0.0.1:0",
                   "--backend", b.url], "spindle-lb")
        self.procs.append(lb)
        debug = re.search(r"debug (\S+)\)", lb.address_line).group(1)
        for _ in range(5):
            self.assertEqual(request(lb.addr).status, 200)
        m = dict(l.split() for l in request(debug, "GET", "/metrics").text.splitlines()
                 if l and not l.startswith("#"))
        self.assertEqual(m["spindle_lb_requests_total"], "5")
        self.assertEqual(m["spindle_lb_in_flight_limit"], "1024")
        self.assertGreaterEqual(int(m["spindle_runtime_threads"]), 1)
        self.assertGreaterEqual(int(m["spindle_runtime_netpoll_events_total"]), 5)


if __name__ == "__main__":
    unittest.main(verbosity=2)
