#!/usr/bin/env python3
"""Process lifecycle (docs/lb-reference.md, "Overload", "SIGTERM or SIGINT", "Tests"): a graceful
drain of spindle-lb that loses no in-flight request, a backend draining on SIGTERM behind the
LB, a backend SIGKILLed under load (idempotent GETs see no error), and 503 + Retry-After
beyond --max-in-flight."""
import collections
import http.client
import signal
import socket
import threading
import time
import unittest

from lbtest import (SLOW, LbTestCase, connection, in_threads, name_of, request, wait_until)


class Drain(LbTestCase):
    def drain_lb(self, sig):
        lb = self.start_lb()
        slow = self.start_backend(lb, "--delay", "1s", name="slow")
        self.wait_backends(lb, [slow])
        n = 8
        results = []
        threads = [threading.Thread(target=lambda: results.append(request(lb.addr, timeout=20)))
                   for _ in range(n)]
        for t in threads:
            t.start()
        wait_until(lambda: self.stats(slow)["in_flight"] == n, 5 * SLOW,
                   what=f"{n} requests in flight at the backend")
        lb.signal(sig)
        for t in threads:
            t.join(20 * SLOW)
        self.assertEqual(sorted(r.status for r in results), [200] * n)
        self.assertEqual(lb.wait(15 * SLOW), 0, lb.stderr()[-2000:])
        host, port = lb.addr.rsplit(":", 1)
        with self.assertRaises(OSError):
            socket.create_connection((host, int(port)), timeout=2).close()

    def test_sigterm_loses_no_in_flight_request(self):
        self.drain_lb(signal.SIGTERM)

    def test_sigint_loses_no_in_flight_request(self):
        self.drain_lb(signal.SIGINT)

    def test_shutdown_grace_bounds_the_exit(self):
        # A request that outlives --shutdown-grace: its client connection is closed at the
        # deadline and its upstream request canceled, so the LB exits then, not when the
        # backend would have answered.
        lb = self.start_lb("--shutdown-grace", "300ms")
        slow = self.start_backend(lb, "--delay", "20s", name="slow")
        self.wait_backends(lb, [slow])
        results = []
        t = threading.Thread(target=lambda: results.append(self.try_request(lb.addr)))
        t.start()
        wait_until(lambda: self.stats(slow)["in_flight"] == 1, 5 * SLOW,
                   what="the request in flight at the backend")
        start = time.monotonic()
        lb.signal(signal.SIGTERM)
        self.assertEqual(lb.wait(10 * SLOW), 0, lb.stderr()[-2000:])
        self.assertLess(time.monotonic() - start, 5 * SLOW, "exit waited for the backend")
        t.join(10 * SLOW)
        self.assertEqual(results, [None], "the cut request did not fail on the client side")

    def try_request(self, addr):
        try:
            return request(addr, timeout=30).status
        except (OSError, http.client.HTTPException):
            return None

    def test_backend_sigterm_deregisters_and_drains(self):
        lb = self.start_lb()
        other = self.start_backend(lb, name="other")
        slow = self.start_backend(lb, "--delay", "1s", name="slow")
        self.wait_backends(lb, [other, slow])
        results = []
        threads = [threading.Thread(target=lambda: results.append(request(lb.addr, timeout=20)))
                   for _ in range(6)]
        for t in threads:
            t.start()
        wait_until(lambda: self.stats(slow)["in_flight"] == 3, 5 * SLOW,
                   what="3 requests in flight at the slow backend")
        slow.signal(signal.SIGTERM)
        for t in threads:
            t.join(20 * SLOW)
        self.assertEqual(sorted(r.status for r in results), [200] * 6)
        self.assertEqual(collections.Counter(name_of(r) for r in results),
                         {"slow": 3, "other": 3})
        self.assertEqual(slow.wait(10 * SLOW), 0, slow.stderr())
        self.assertFalse(self.routable(lb, slow.url), "deregistered backend still routable")
        self.assertEqual({name_of(request(lb.addr)) for _ in range(6)}, {"other"})


class Kill(LbTestCase):
    def test_backend_killed_under_load_gets_no_error(self):
        lb, bs = self.lb_with_backends(3)
        done, count, failures = threading.Event(), [0], []
        lock = threading.Lock()

        def client(i):
            conn = connection(lb.addr)
            while not done.is_set():
                try:
                    r = request(lb.addr, conn=conn)
                    ok = r.status == 200
                except Exception as e:  # noqa: BLE001 - every error is a failure here
                    ok, r = False, e
                    conn.close()
                    conn = connection(lb.addr)
                with lock:
                    count[0] += 1
                    if not ok:
                        failures.append(getattr(r, "status", repr(r)))
            conn.close()

        threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        try:
            wait_until(lambda: count[0] >= 100, 10 * SLOW, what="100 requests")
            bs[1].signal(signal.SIGKILL)
            target = count[0] + 400
            wait_until(lambda: count[0] >= target, 20 * SLOW, what="400 more requests")
        finally:
            done.set()
            for t in threads:
                t.join()
        self.assertEqual(failures, [], f"{len(failures)} of {count[0]} GETs failed")


class Overload(LbTestCase):
    def test_beyond_max_in_flight_503_with_retry_after(self):
        lb = self.start_lb("--max-in-flight", "2")
        slow = self.start_backend(lb, "--delay", "2s", name="slow")
        self.wait_backends(lb, [slow])
        start = time.monotonic()
        results = in_threads(6, lambda i: (request(lb.addr, timeout=20), time.monotonic()))
        statuses = collections.Counter(r.status for r, _ in results)
        self.assertEqual(statuses[200], 2, statuses)
        self.assertEqual(statuses[503], 4, statuses)
        for r, at in results:
            if r.status == 503:
                self.assertIsNotNone(r.header("Retry-After"), "503 without Retry-After")
                self.assertLess(at - start, 2.0, "a shed request waited as long as the backend")
        self.assertTrue(lb.alive())


if __name__ == "__main__":
    unittest.main(verbosity=2)
