#!/usr/bin/env python3
"""Round-robin exactness, deregistration while requests are in flight, 503 without a healthy
backend, and a client disconnect cancelling its upstream request (docs/lb-reference.md,
"Routing" and "Proxying")."""
import collections
import socket
import threading
import unittest

from lbtest import (SLOW, LbTestCase, connection, in_threads, name_of, request, wait_until)


class RoundRobin(LbTestCase):
    def test_exactly_even_sequential(self):
        lb, bs = self.lb_with_backends(3)
        k = 20
        conn = connection(lb.addr)
        names = collections.Counter(name_of(request(lb.addr, conn=conn)) for _ in range(3 * k))
        conn.close()
        self.assertEqual(names, {"b0": k, "b1": k, "b2": k})
        self.assertEqual([self.stats(b)["requests"] for b in bs], [k, k, k])

    def test_exactly_even_concurrent_clients(self):
        lb, bs = self.lb_with_backends(4)
        per_client, clients = 24, 5  # 120 requests: 30 per backend

        def client(i):
            conn = connection(lb.addr)
            got = [name_of(request(lb.addr, conn=conn)) for _ in range(per_client)]
            conn.close()
            return got

        names = collections.Counter(n for got in in_threads(clients, client) for n in got)
        self.assertEqual(names, {f"b{i}": 30 for i in range(4)})

    def test_backend_joining_gets_its_share(self):
        lb, bs = self.lb_with_backends(2)
        for _ in range(5):
            request(lb.addr)
        late = self.start_backend(lb, name="late")
        self.wait_backends(lb, [late])
        names = collections.Counter(name_of(request(lb.addr)) for _ in range(30))
        self.assertEqual(names, {"b0": 10, "b1": 10, "late": 10})


class Policies(LbTestCase):
    def test_every_policy_routes_to_healthy_backends(self):
        for policy in ("round-robin", "least-conn", "p2c-ewma", "weighted"):
            with self.subTest(policy=policy):
                lb, bs = self.lb_with_backends(2, "--policy", policy)
                names = collections.Counter(name_of(request(lb.addr)) for _ in range(20))
                self.assertEqual(sum(names.values()), 20, names)
                self.assertLessEqual(set(names), {"b0", "b1"}, names)

    def test_unknown_policy_refused_at_start(self):
        lb = self.start_lb("--policy", "random-ish", expect_address=False)
        self.assertNotEqual(lb.wait(10 * SLOW), 0)


class Availability(LbTestCase):
    def test_no_backend_503_with_explanation(self):
        lb = self.start_lb()
        r = request(lb.addr, "GET", "/anything")
        self.assertEqual(r.status, 503)
        self.assertGreater(len(r.text.strip()), 5, "503 without a plain explanation")

    def test_after_last_backend_deregisters_503(self):
        lb = self.start_lb()
        b = self.start_backend(name="only")
        self.assertEqual(self.register(lb, b.url).status, 200)
        self.assertEqual(request(lb.addr).status, 200)
        self.assertEqual(self.admin(lb, "/_lb/deregister", {"url": b.url}).status, 204)
        r = request(lb.addr)
        self.assertEqual(r.status, 503)
        self.assertTrue(r.text.strip())

    def test_deregister_lets_in_flight_requests_finish(self):
        lb = self.start_lb()
        slow = self.start_backend(None, "--delay", "1s", name="slow")
        self.assertEqual(self.register(lb, slow.url, name="slow").status, 200)
        results = []
        t = threading.Thread(target=lambda: results.append(request(lb.addr)))
        t.start()
        wait_until(lambda: self.stats(slow)["in_flight"] == 1, 5 * SLOW, what="request in flight")
        self.assertEqual(self.admin(lb, "/_lb/deregister", {"url": slow.url}).status, 204)
        t.join(10 * SLOW)
        self.assertEqual(len(results), 1)
        self.assertEqual(results[0].status, 200)
        self.assertEqual(name_of(results[0]), "slow")
        self.assertEqual(request(lb.addr).status, 503)

    def test_client_disconnect_cancels_upstream_request(self):
        lb = self.start_lb()
        slow = self.start_backend(None, "--delay", "3s", name="slow")
        self.assertEqual(self.register(lb, slow.url, name="slow").status, 200)
        host, port = lb.addr.rsplit(":", 1)
        s = socket.create_connection((host, int(port)))
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")

        def lb_in_flight():
            return self.backend_entry(lb, slow.url)["in_flight"]

        wait_until(lambda: lb_in_flight() == 1, 5 * SLOW, what="the LB to count the request")
        s.close()
        # Well before the backend's 3 s delay ends, the LB has given up the upstream request.
        wait_until(lambda: lb_in_flight() == 0, 1.5, what="in_flight 0 after the client left")

    def test_client_disconnect_cancels_upstream_request_with_a_body(self):
        # The same once the request body has been forwarded whole: a small one with a length
        # (written inline) and a chunked one (written by a goroutine in the background). Both
        # fit the socket buffers, so they are forwarded whole although the backend does not
        # read before its delay.
        lb = self.start_lb()
        slow = self.start_backend(None, "--delay", "3s", name="slow")
        self.assertEqual(self.register(lb, slow.url, name="slow").status, 200)
        host, port = lb.addr.rsplit(":", 1)
        for request_bytes in (
                b"POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
                b"POST /sink HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5\r\nhello\r\n0\r\n\r\n"):
            s = socket.create_connection((host, int(port)))
            s.sendall(request_bytes)
            wait_until(lambda: self.backend_entry(lb, slow.url)["in_flight"] == 1, 5 * SLOW,
                       what="the LB to count the request")
            s.close()
            wait_until(lambda: self.backend_entry(lb, slow.url)["in_flight"] == 0, 1.5,
                       what=f"in_flight 0 after the client left ({request_bytes[:60]!r})")


if __name__ == "__main__":
    unittest.main(verbosity=2)
