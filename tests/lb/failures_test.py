#!/usr/bin/env python3
"""Every upstream failure path of docs/lb-contract.md, "Failures": connect refused → another
backend for any method; reset before any response byte → one retry for GET, none for POST;
response-header timeout → 504; other upstream failures → 502; outlier ejection after 5
consecutive failures."""
import unittest

from lbtest import (SLOW, LbTestCase, closed_port, connection, name_of, request, wait_until)


class Failures(LbTestCase):
    def test_connect_refused_goes_to_another_backend_for_any_method(self):
        dead = f"http://127.0.0.1:{closed_port()}"
        lb = self.start_lb("--backend", dead)
        live = self.start_backend(lb, name="live")
        self.wait_backends(lb, [live])
        for method, body in (("GET", None), ("POST", b"payload"), ("PUT", b"x" * 1000),
                             ("DELETE", None), ("PATCH", b"{}")):
            for _ in range(3):
                r = request(lb.addr, method, "/sink" if body else "/", body=body)
                self.assertEqual(r.status, 200, f"{method}: {r.status} {r.text}")
                self.assertIn("live", r.text)

    def test_reset_before_response_retried_once_for_get(self):
        fake = self.fake_backend("fake", lambda n: "reset" if n == 0 else "ok")
        lb = self.start_lb("--backend", fake.url)
        r = request(lb.addr, "GET", "/")
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(name_of(r), "fake")
        self.assertEqual(fake.requests, 2)  # the reset attempt and one retry

    def test_reset_before_response_not_retried_for_post(self):
        fake = self.fake_backend("fake", lambda n: "reset" if n == 0 else "ok")
        lb = self.start_lb("--backend", fake.url)
        r = request(lb.addr, "POST", "/", body=b"not idempotent")
        self.assertEqual(r.status, 502, r.text)
        self.assertEqual(fake.requests, 1)

    def test_reset_on_every_attempt_get_gives_502_after_one_retry(self):
        fake = self.fake_backend("fake", lambda n: "reset")
        lb = self.start_lb("--backend", fake.url)
        r = request(lb.addr, "GET", "/")
        self.assertEqual(r.status, 502, r.text)
        self.assertEqual(fake.requests, 2)

    def test_response_header_timeout_504(self):
        slow = self.start_backend(None, "--delay", "3s", name="slow")
        lb = self.start_lb("--backend", slow.url, "--response-header-timeout", "300ms")
        r = request(lb.addr, "GET", "/")
        self.assertEqual(r.status, 504, r.text)

    def test_garbage_response_502(self):
        fake = self.fake_backend("fake", lambda n: "garbage")
        lb = self.start_lb("--backend", fake.url)
        r = request(lb.addr, "GET", "/")
        self.assertEqual(r.status, 502, r.text)

    def test_transfer_codings_other_than_chunked_are_refused(self):
        # Re-framing the body would silently drop the gzip coding: 502 (response), 501 (request).
        fake = self.fake_backend("fake", lambda n: "gzip-te")
        lb = self.start_lb("--backend", fake.url)
        r = request(lb.addr, "GET", "/")
        self.assertEqual(r.status, 502, r.text)
        self.assertIn("transfer coding", r.text)
        r = request(lb.addr, "POST", "/", body=b"5\r\nhello\r\n0\r\n\r\n",
                    headers={"Transfer-Encoding": "gzip, chunked"})
        self.assertEqual(r.status, 501, r.text)
        self.assertEqual(fake.requests, 1)  # the request never went upstream

    def test_truncated_response_head_502(self):
        fake = self.fake_backend("fake", lambda n: "partial")
        lb = self.start_lb("--backend", fake.url)
        r = request(lb.addr, "GET", "/")
        self.assertEqual(r.status, 502, r.text)
        self.assertEqual(fake.requests, 1)  # response bytes arrived: never replayed

    def test_keepalive_race_backend_closing_connections_gets_no_error_for_get(self):
        # The backend closes every connection right after its response (without saying so):
        # a pooled connection is then dead when reused, and GETs must still all succeed.
        fake = self.fake_backend("closer", lambda n: "close")
        lb = self.start_lb("--backend", fake.url)
        conn = connection(lb.addr)
        for i in range(50):
            r = request(lb.addr, conn=conn)
            self.assertEqual((r.status, name_of(r)), (200, "closer"), f"request {i}: {r.text}")
        conn.close()

    def test_unframed_bytes_after_a_response_are_never_handed_to_the_next_request(self):
        # The first response is followed by a second one nobody asked for: the connection must
        # not go back to the pool, or the next request would read "smuggled".
        fake = self.fake_backend("fake", lambda n: "desync" if n == 0 else "ok")
        lb = self.start_lb("--backend", fake.url)
        bodies = [request(lb.addr).text for _ in range(5)]
        self.assertEqual(bodies[0], "hello from fake\n")
        for b in bodies[1:]:
            self.assertNotIn("smuggled", b)
            self.assertEqual(b, "hello from fake\n")

    def test_lb_survives_failures(self):
        fake = self.fake_backend("fake", lambda n: ("reset", "garbage", "partial")[n % 3])
        lb = self.start_lb("--backend", fake.url)
        for _ in range(9):
            self.assertIn(request(lb.addr).status, (502, 503))
        self.assertTrue(lb.alive())

    def test_outlier_ejected_after_5_consecutive_failures(self):
        # One failing backend out of four (25% of the pool may be ejected).
        dead = f"http://127.0.0.1:{closed_port()}"
        lb = self.start_lb("--backend", dead)
        live = [self.start_backend(lb, name=f"b{i}") for i in range(3)]
        self.wait_backends(lb, live)

        def dead_entry():
            return self.backend_entry(lb, dead)

        for _ in range(100):
            r = request(lb.addr)
            self.assertEqual(r.status, 200, r.text)
            if dead_entry()["failures"] >= 5:
                break
        entry = dead_entry()
        self.assertEqual(entry["failures"], 5, entry)
        self.assertIs(entry["healthy"], False, entry)
        # Ejected: further requests never try it, so its failure count stays.
        for _ in range(20):
            self.assertEqual(request(lb.addr).status, 200)
        self.assertEqual(dead_entry()["failures"], 5, dead_entry())

    def test_all_backends_failing_answers_without_hanging(self):
        lb = self.start_lb("--backend", f"http://127.0.0.1:{closed_port()}",
                           "--connect-timeout", "500ms")
        r = request(lb.addr, timeout=10)
        self.assertIn(r.status, (502, 503), r.text)
        wait_until(lambda: lb.alive(), 1 * SLOW)


if __name__ == "__main__":
    unittest.main(verbosity=2)
