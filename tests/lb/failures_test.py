#!/usr/bin/env python3
"""Every upstream failure path of docs/lb-reference.md, "Failures": connect refused → another
backend for any method; reset before any response byte → one retry for GET, none for POST;
response-header timeout → 504; other upstream failures → 502; outlier ejection after 5
consecutive failures."""
import socket
import unittest

from lbtest import (SLOW, LbTestCase, closed_port, connection, name_of, request, wait_until)


def send_and_close(addr, data, read_answer=True):
    """Sends raw bytes, then either closes at once or shuts its write side down and reads
    until the LB closes; returns the bytes read."""
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10 * SLOW)
    got = b""
    try:
        s.sendall(data)
        if not read_answer:
            return b""
        s.shutdown(socket.SHUT_WR)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    except OSError:  # the LB answered early and closed (reset): what it sent was read
        pass
    finally:
        s.close()
    return got


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

    def test_client_side_failures_never_count_against_backends(self):
        # Requests whose body the client breaks: a declared length it never sends, malformed
        # chunking, a chunked body over --max-body-size. Each is the client's failure (charged
        # to nobody's outlier count), whatever the backend does with the body: ignore it (/),
        # read it (/sink) or echo it while it arrives (/echo).
        lb, bs = self.lb_with_backends(2, "--max-body-size", "100KiB")
        bodies = [
            b"Content-Length: 1000000\r\n\r\n0123456789",
            b"Content-Length: 20000\r\n\r\n0123456789",
            b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n",
            b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nabcdef\r\n0\r\n\r\n",
            b"Transfer-Encoding: chunked\r\n\r\n" +
            b"".join(b"4000\r\n" + b"x" * 0x4000 + b"\r\n" for _ in range(8)) + b"0\r\n\r\n",
        ]
        for path in (b"/", b"/sink", b"/echo"):
            head = b"POST " + path + b" HTTP/1.1\r\nHost: x\r\n"
            for _ in range(6):  # more than --eject-after's 5; closed at once, no answer read
                send_and_close(lb.addr, head + bodies[0], read_answer=False)
            for body in bodies:  # half-closed; the answer is read to its end
                for _ in range(6):
                    send_and_close(lb.addr, head + body)
        # Wait for the LB to end every exchange (in_flight 0) before reading the counters.
        wait_until(lambda: all(self.backend_entry(lb, b.url)["in_flight"] == 0 for b in bs),
                   10 * SLOW, what="every hostile exchange to end")
        for b in bs:
            entry = self.backend_entry(lb, b.url)
            self.assertEqual((entry["failures"], entry["healthy"]), (0, True), entry)
        for _ in range(4):
            self.assertEqual(request(lb.addr).status, 200)

    def test_all_backends_failing_answers_without_hanging(self):
        lb = self.start_lb("--backend", f"http://127.0.0.1:{closed_port()}",
                           "--connect-timeout", "500ms")
        r = request(lb.addr, timeout=10)
        self.assertIn(r.status, (502, 503), r.text)
        wait_until(lambda: lb.alive(), 1 * SLOW)


if __name__ == "__main__":
    unittest.main(verbosity=2)
