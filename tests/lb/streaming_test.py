#!/usr/bin/env python3
"""1 GiB upload and 1 GiB download through spindle-lb with its RSS (VmRSS, sampled every
20 ms) rising by at most RSS_BOUND_MIB (docs/lb-reference.md, "Proxying": "a few MiB").

Under sanitizers (SPINDLE_SANITIZE set) the streams shrink to 64 MiB and the RSS bound is not
checked: ASan's quarantine and TSan's shadow memory grow RSS with every allocation, so the
figure says nothing about the LB's buffering there. The release preset checks the full bound."""
import socket
import threading
import time
import unittest

from lbtest import SANITIZED, SLOW, LbTestCase, request

SIZE = (64 if SANITIZED else 1024) * 1024 * 1024
RSS_BOUND_MIB = 8
PIECE = 1024 * 1024


class RssSampler:
    def __init__(self, proc):
        self.proc, self.peak, self.stop = proc, 0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, self.proc.rss_kib())
            self.stop.wait(0.02)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.peak = max(self.peak, self.proc.rss_kib())


def read_head(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed inside the response head: {buf!r}")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    fields = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    return int(lines[0].split()[1]), fields, rest


class Streaming(LbTestCase):
    def warm_up(self, lb):
        """Traffic of both kinds first, so the baseline includes every buffer the LB keeps."""
        for _ in range(3):
            self.assertEqual(request(lb.addr, "PUT", "/sink", body=b"x" * (4 << 20)).status, 200)
            self.assertEqual(request(lb.addr, "GET", "/small").status, 200)

    def check_rss(self, lb, baseline, sampler, what, seconds):
        grew = (sampler.peak - baseline) / 1024
        print(f"\n{what}: {SIZE >> 20} MiB in {seconds:.1f}s "
              f"({SIZE / seconds / 1e9:.2f} GB/s); LB RSS {baseline / 1024:.1f} MiB -> peak "
              f"{sampler.peak / 1024:.1f} MiB (+{grew:.1f} MiB)", flush=True)
        if not SANITIZED:
            self.assertLessEqual(grew, RSS_BOUND_MIB, f"{what}: LB RSS grew by {grew:.1f} MiB")

    def test_upload(self):
        lb, (b,) = self.lb_with_backends(1)
        self.warm_up(lb)
        baseline = lb.rss_kib()
        host, port = lb.addr.rsplit(":", 1)
        s = socket.create_connection((host, int(port)), timeout=60 * SLOW)
        piece = memoryview(bytes(PIECE))
        start = time.monotonic()
        with RssSampler(lb) as sampler:
            s.sendall(b"PUT /sink HTTP/1.1\r\nHost: lb\r\nContent-Length: %d\r\n\r\n" % SIZE)
            for _ in range(SIZE // PIECE):
                s.sendall(piece)
            status, fields, rest = read_head(s)
            length = int(fields["content-length"])
            while len(rest) < length:
                rest += s.recv(65536)
        seconds = time.monotonic() - start
        s.close()
        self.assertEqual(status, 200)
        self.assertEqual(rest.decode().strip(), f"b0 received {SIZE} bytes")
        self.check_rss(lb, baseline, sampler, "upload", seconds)

    def test_download(self):
        lb = self.start_lb()
        big = self.start_backend(lb, "--body-bytes", str(SIZE), name="big")
        self.wait_backends(lb, [big])
        self.warm_up(lb)
        baseline = lb.rss_kib()
        host, port = lb.addr.rsplit(":", 1)
        s = socket.create_connection((host, int(port)), timeout=60 * SLOW)
        buf = bytearray(PIECE)
        start = time.monotonic()
        with RssSampler(lb) as sampler:
            s.sendall(b"GET /big HTTP/1.1\r\nHost: lb\r\n\r\n")
            status, fields, rest = read_head(s)
            got = len(rest)
            while got < SIZE:
                n = s.recv_into(buf)
                if n == 0:
                    break
                got += n
        seconds = time.monotonic() - start
        s.close()
        self.assertEqual(status, 200)
        self.assertEqual(got, SIZE)
        self.check_rss(lb, baseline, sampler, "download", seconds)

    def test_small_pieces_echo_interactively(self):
        """Each piece of a chunked body comes back through the LB before the next is sent
        (a client that waits for its echo, as a chat or RPC stream does, must not stall)."""
        lb, _ = self.lb_with_backends(1)
        host, port = lb.addr.rsplit(":", 1)
        s = socket.create_connection((host, int(port)), timeout=10 * SLOW)
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: lb\r\nTransfer-Encoding: chunked\r\n\r\n")
        got = b""
        for word in (b"ping-one", b"ping-two", b"ping-three"):
            s.sendall(b"%x\r\n%s\r\n" % (len(word), word))
            while word not in got:
                chunk = s.recv(4096)  # times out (fails) if the echo waits for more input
                self.assertTrue(chunk, "connection closed before the echo")
                got += chunk
        s.sendall(b"0\r\n\r\n")
        s.close()

    def test_echo_both_ways_at_once(self):
        """/echo answers while the body is still arriving (the backend streams it back), so the
        LB must carry both directions at once: a proxy that sends the whole request before
        reading the response deadlocks here once the socket buffers are full (then 504)."""
        lb, _ = self.lb_with_backends(1, "--response-header-timeout", "5s")
        size = 32 * 1024 * 1024
        host, port = lb.addr.rsplit(":", 1)
        s = socket.create_connection((host, int(port)), timeout=60 * SLOW)
        pattern = bytes(range(256)) * (PIECE // 256)

        def send():
            try:
                s.sendall(b"POST /echo HTTP/1.1\r\nHost: lb\r\nTransfer-Encoding: chunked\r\n\r\n")
                for _ in range(size // PIECE):
                    s.sendall(b"%x\r\n" % PIECE + pattern + b"\r\n")
                s.sendall(b"0\r\n\r\n")
            except OSError:
                pass  # the response (checked below) says what went wrong

        t = threading.Thread(target=send)
        t.start()
        s.settimeout(10 * SLOW)
        try:
            status, fields, rest = read_head(s)
        except socket.timeout:
            status = "none within %.0fs" % (10 * SLOW)
        if status != 200:
            s.close()
            t.join()
            self.fail(f"echo through the LB: status {status} (full-duplex streaming)")
        body = bytearray(rest)
        # The echo is chunked back (no length was known): decode until the last chunk.
        while not body.endswith(b"0\r\n\r\n"):
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            body += chunk
        t.join()
        s.close()
        data, pos = bytearray(), 0
        while True:
            eol = body.index(b"\r\n", pos)
            n = int(body[pos:eol].split(b";")[0], 16)
            if n == 0:
                break
            data += body[eol + 2:eol + 2 + n]
            pos = eol + 2 + n + 2
        self.assertEqual(len(data), size)
        self.assertEqual(bytes(data[:PIECE]), pattern)


if __name__ == "__main__":
    unittest.main(verbosity=2)
