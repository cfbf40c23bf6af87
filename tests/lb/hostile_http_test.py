#!/usr/bin/env python3
"""Hostile HTTP from either side (docs/lb.md, "Hostile peers"): chunk lines and trailer
sections past the limits, from a client or a backend, are answered (400/431 to the client,
502 for a backend) and never stop the balancer; pipelined answers are neither held back by a
partial next request nor lost to a rejected one; every answer after which the balancer closes
says "Connection: close"; bodies it will not read are answered at once, without a reset."""
import socket
import threading
import time
import unittest

from lbtest import SLOW, LbTestCase, request, wait_until

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
    with connect(addr, timeout * SLOW) as s:
        s.sendall(data)
        return read_to_end(s)


def status_of(answer):
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None


def connect(addr, timeout):
    host, port = addr.rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=timeout)


def read_until(s, marker):
    """Reads until marker arrived (the bytes read) or the socket's timeout (raises)."""
    out = b""
    while marker not in out:
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
    return out


def read_to_end(s):
    out = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            return out + b"<reset>"
        if not chunk:
            return out
        out += chunk


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
            self.assertIn(b"response body", answer)
        answer = exchange(lb.addr, get)  # the trailer section fails after "abc" went out
        self.assertEqual(status_of(answer), 200, answer[:300])
        self.assertIn(b"\r\n\r\n3\r\nabc\r\n", answer)
        self.assertFalse(answer.endswith(b"0\r\n\r\n"), answer[-300:])
        answer = exchange(lb.addr, get)  # at the limit: forwarded
        self.assertEqual(status_of(answer), 200, answer[:300])
        self.assertTrue(answer.endswith(b"3\r\nabc\r\n0\r\n\r\n"), answer[-300:])
        self.assertTrue(lb.alive(), lb.stderr()[-2000:])


class Pipelining(LbTestCase):
    def test_answer_not_held_back_by_a_partial_next_request(self):
        fake = self.fake_backend("fake", lambda n: "ok")
        lb = self.start_lb("--backend", fake.url)
        # Below the 10 s header timeout: a held answer would only come with the 408.
        with connect(lb.addr, timeout=8.0) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HT")
            answer = read_until(s, b"hello from fake\n")
            self.assertEqual(status_of(answer), 200, answer)

    def test_answers_before_a_rejected_pipelined_request_are_sent(self):
        fake = self.fake_backend("fake", lambda n: "ok")
        lb = self.start_lb("--backend", fake.url)
        answer = exchange(lb.addr, b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n"
                                   b"GET /bad HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n"
                                   b"GET /third HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(status_of(answer), 200, answer)
        error = answer.find(b"HTTP/1.1 400 ")
        self.assertGreater(error, answer.find(b"hello from fake"), answer)
        self.assertIn(b"Connection: close\r\n", answer[error:])
        self.assertEqual(answer.count(b"HTTP/1.1 "), 2, answer)
        self.assertEqual(fake.requests, 1)  # the third was never forwarded


class Closing(LbTestCase):
    def test_body_framing_errors_are_answered_with_connection_close(self):
        lb, _ = self.lb_with_backends(1)
        for body in (b"zz\r\nabc\r\n0\r\n\r\n", b"3\nabc\r\n0\r\n\r\n",
                     b"3\r\nabcd\r\n0\r\n\r\n", b"3\r\nabc\r\n0\r\nbad\r\n\r\n"):
            answer = exchange(lb.addr, CHUNKED_POST + body)
            self.assertEqual(status_of(answer), 400, f"{body!r}: {answer!r}")
            self.assertIn(b"Connection: close\r\n", answer, body)

    def test_upload_over_max_body_size_is_answered_413_not_reset(self):
        lb, _ = self.lb_with_backends(1, "--max-body-size", "1MiB")
        size = 10 << 20
        with connect(lb.addr, timeout=10.0 * SLOW) as s:
            # Like a client without Expect: the whole body first, then the answer.
            s.sendall(b"POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size)
            chunk = b"u" * (1 << 16)
            for _ in range(size // len(chunk)):
                s.sendall(chunk)
            answer = read_to_end(s)
        self.assertEqual(status_of(answer), 413, answer[:300])
        self.assertIn(b"Connection: close\r\n", answer)
        self.assertIn(b"--max-body-size", answer)
        self.assertFalse(answer.endswith(b"<reset>"), answer[-300:])

    def test_register_body_over_64_kib_is_refused_without_100_continue(self):
        lb = self.start_lb()
        with connect(lb.addr, timeout=10.0 * SLOW) as s:
            s.sendall(b"POST /_lb/register HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
            answer = read_to_end(s)
        self.assertEqual(status_of(answer), 413, answer[:300])
        self.assertNotIn(b"100 Continue", answer)
        self.assertIn(b"Connection: close\r\n", answer)

    def test_overload_503_is_answered_before_the_body_and_closes(self):
        lb = self.start_lb("--max-in-flight", "1", "--queue-timeout", "10ms")
        slow = self.start_backend(lb, "--delay", "2s", name="slow")
        self.wait_backends(lb, [slow])
        holder = threading.Thread(target=lambda: request(lb.addr, "GET", "/", timeout=20))
        holder.start()
        try:
            wait_until(lambda: self.stats(slow)["in_flight"] >= 1, 5 * SLOW,
                       what="the slot taken by a slow request")
            with connect(lb.addr, timeout=1.5) as s:  # the slot frees after 2 s
                s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                          b"5\r\nfirst\r\n")  # and the rest never comes
                answer = read_to_end(s)
            self.assertEqual(status_of(answer), 503, answer)
            self.assertIn(b"Connection: close\r\n", answer)
            self.assertIn(b"Retry-After: 1\r\n", answer)
        finally:
            holder.join()


if __name__ == "__main__":
    unittest.main()
