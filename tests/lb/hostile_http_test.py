#!/usr/bin/env python3
"""Hostile HTTP from either side (docs/lb.md, "Hostile peers"): chunk lines and trailer
sections past the limits, from a client or a backend, are answered (400/431 to the client,
502 for a backend) and never stop the balancer."""
import socket
import unittest

from lbtest import SLOW, LbTestCase, request

CHUNKED_POST = (b"POST /sink HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")


def trailers(count, line_size):
    out = b""
    for i in range(count):
        name = b"X-T%d: " % i
        out += name + b"v" * (line_size - len(name) - 2) + b"\r\n"
    return out


# Chunked bodies past (and at) the default limits: chunk line 4 KiB, trailer section 16 KiB,
# 100 trailer fields.
BODIES = {
    "extension of 5,000 bytes": (b"3;" + b"e" * 5000 + b"\r\nabc\r\n0\r\n\r\n", 400),
    "trailer line of 20 KB": (b"3\r\nabc\r\n0\r\n" + trailers(1, 20000) + b"\r\n", 431),
    "300 trailers of 106 bytes": (b"3\r\nabc\r\n0\r\n" + trailers(300, 106) + b"\r\n", 431),
    "5,000 leading zeros": (b"0" * 5000 + b"3\r\nabc\r\n0\r\n\r\n", 400),
    "chunk line of exactly 4 KiB": (b"3;" + b"e" * 4092 + b"\r\nabc\r\n0\r\n\r\n", 200),
}


def exchange(addr, data, timeout=10.0):
    """Sends data on a new connection and reads until the LB closes it: everything read."""
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout * SLOW) as s:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                return out + b"<reset>"
            if not chunk:
                return out
            out += chunk


def status_of(answer):
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None


class ClientBodies(LbTestCase):
    def test_chunk_lines_and_trailers_past_the_limits_are_answered(self):
        lb, _ = self.lb_with_backends(1)
        for name, (body, status) in BODIES.items():
            with self.subTest(name):
                close = b"" if status != 200 else b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                answer = exchange(lb.addr, CHUNKED_POST + body + close)
                self.assertEqual(status_of(answer), status, answer[:300])
                self.assertTrue(lb.alive(), lb.stderr()[-2000:])
                if status == 200:
                    self.assertEqual(answer.count(b"HTTP/1.1 200"), 2, answer[:600])
        self.assertEqual(request(lb.addr, "GET", "/").status, 200)


class BackendBodies(LbTestCase):
    def test_backend_chunk_lines_and_trailers_past_the_limits(self):
        # Before any body byte went out the answer is a 502; a body that fails after its first
        # bytes were forwarded is cut short (no last chunk) and the connection closed.
        bodies = [BODIES[n] for n in ("extension of 5,000 bytes", "5,000 leading zeros",
                                      "trailer line of 20 KB", "chunk line of exactly 4 KiB")]
        fake = self.fake_backend(
            "fake", lambda n: b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + bodies[n][0])
        lb = self.start_lb("--backend", fake.url)
        get = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        for what in ("extension", "zeros"):
            answer = exchange(lb.addr, get)
            self.assertEqual(status_of(answer), 502, f"{what}: {answer[:300]!r}")
            self.assertIn(b"invalid response body", answer)
        answer = exchange(lb.addr, get)  # the trailer section fails after "abc" went out
        self.assertEqual(status_of(answer), 200, answer[:300])
        self.assertIn(b"\r\n\r\n3\r\nabc\r\n", answer)
        self.assertFalse(answer.endswith(b"0\r\n\r\n"), answer[-300:])
        answer = exchange(lb.addr, get)  # at the limit: forwarded
        self.assertEqual(status_of(answer), 200, answer[:300])
        self.assertTrue(answer.endswith(b"3\r\nabc\r\n0\r\n\r\n"), answer[-300:])
        self.assertTrue(lb.alive(), lb.stderr()[-2000:])


if __name__ == "__main__":
    unittest.main()
