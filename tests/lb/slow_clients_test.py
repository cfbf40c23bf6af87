#!/usr/bin/env python3
"""Slow request bodies (docs/lb.md, "Request bodies"): a small body is read whole before an
in-flight slot and a backend are taken, so clients trickling theirs lock nobody out; every
body is bounded in time (--body-timeout plus 1 s per --body-min-rate bytes, counting only the
waits for the client), then 408, charged to the client; a body that keeps a decent rate is
never cut."""
import socket
import threading
import time
import unittest

from lbtest import SLOW, LbTestCase, request, wait_until


class SlowClient:
    """A POST whose body trickles in a thread: `head_and_start` at once, then one byte every
    `interval` seconds until `count` bytes or the LB closes; `answer` holds what came back."""

    def __init__(self, addr, head_and_start, count, interval):
        host, port = addr.rsplit(":", 1)
        self.s = socket.create_connection((host, int(port)), timeout=30 * SLOW)
        self.s.sendall(head_and_start)
        self.answer = b""
        self.stop = threading.Event()
        self.t = threading.Thread(target=self._run, args=(count, interval), daemon=True)
        self.t.start()

    def _run(self, count, interval):
        try:
            for _ in range(count):
                if self.stop.wait(interval):
                    return
                self.s.sendall(b"x")
        except OSError:
            pass

    def read_answer(self):
        try:
            while True:
                chunk = self.s.recv(4096)
                if not chunk:
                    break
                self.answer += chunk
        except OSError:
            pass
        return self.answer

    def close(self):
        self.stop.set()
        self.s.close()
        self.t.join()


class SlowBodies(LbTestCase):
    def slow(self, addr, head, count, interval):
        c = SlowClient(addr, head, count, interval)
        self.addCleanup(c.close)
        return c

    def test_trickling_small_bodies_hold_no_slot_and_no_backend(self):
        lb, (b,) = self.lb_with_backends(1, "--max-in-flight", "4", "--queue-timeout", "50ms")
        head = b"POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nfirst bytes"
        slow = [self.slow(lb.addr, head, 1000, 1.0) for _ in range(16)]
        # Four times the in-flight limit trickle bodies: GETs still get through, and no slow
        # request was sent upstream.
        for _ in range(10):
            r = request(lb.addr)
            self.assertEqual(r.status, 200, r.text)
        entry = self.backend_entry(lb, b.url)
        self.assertEqual(entry["in_flight"], 0, entry)
        self.assertEqual(self.stats(b)["requests"], 10, "a slow body reached the backend")

    def test_a_body_slower_than_the_allowance_gets_408_and_is_the_clients_failure(self):
        lb, (b,) = self.lb_with_backends(1, "--body-timeout", "1s", "--body-min-rate", "0",
                                         "--request-buffer", "1KiB")
        # One byte every 200 ms never trips the 60 s inactivity timeout; the total bound does.
        # A small body (read before a backend is picked) and a large one (streamed upstream).
        small = b"POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab"
        large = (b"POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" +
                 b"y" * 2048)
        for head in (small, large):
            started = time.monotonic()
            c = self.slow(lb.addr, head, 1000, 0.2)
            answer = c.read_answer()
            took = time.monotonic() - started
            self.assertTrue(answer.startswith(b"HTTP/1.1 408 "), answer[:300])
            self.assertIn(b"--body-timeout", answer)
            self.assertLess(took, 1 + 3 * SLOW, "408 well before the 60 s inactivity timeout")
        entry = self.backend_entry(lb, b.url)
        self.assertEqual((entry["failures"], entry["healthy"]), (0, True), entry)
        self.assertEqual(request(lb.addr).status, 200)

    def test_a_body_at_a_decent_rate_is_never_cut(self):
        # 96 KiB over ~1.5 s (64 KiB/s), against a 1 s timeout extended by 1 s per 16 KiB.
        lb, (b,) = self.lb_with_backends(1, "--body-timeout", "1s", "--body-min-rate", "16KiB",
                                         "--request-buffer", "4KiB")
        host, port = lb.addr.rsplit(":", 1)
        s = socket.create_connection((host, int(port)), timeout=30 * SLOW)
        self.addCleanup(s.close)
        s.sendall(b"POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 98304\r\n\r\n")
        for _ in range(24):
            s.sendall(b"z" * 4096)
            time.sleep(1.5 / 24)
        answer = s.recv(4096)
        self.assertTrue(answer.startswith(b"HTTP/1.1 200 "), answer[:300])
        self.assertIn(b"received 98304 bytes", answer)


if __name__ == "__main__":
    unittest.main(verbosity=2)
