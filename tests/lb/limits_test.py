#!/usr/bin/env python3
"""Open-file and connection limits (docs/lb.md, "Limits"): spindle-lb raises its soft
RLIMIT_NOFILE to the hard limit and logs both; --max-connections (default from that limit)
answers connections over it with 503; ~15,000 idle clients from many 127.x addresses are held
by an LB started with a soft limit of 1,024, which still serves a new client; with no room to
raise (hard limit 256), accept backs off on EMFILE and serves again once clients leave."""
import re
import resource
import socket
import time
import unittest

from lbtest import LB_BIN, SLOW, LbTestCase, Proc, request, wait_until

IDLE_CLIENTS = 15000


def metrics(addr):
    text = request(addr, "GET", "/metrics").text
    return {k: float(v) for k, v in (l.split() for l in text.splitlines() if l and l[0] != "#")}


class Limits(LbTestCase):
    def start_lb_limited(self, *flags, nofile):
        p = Proc([LB_BIN, "--listen", "127.0.0.1:0", "--debug-listen", "127.0.0.1:0", *flags],
                 "spindle-lb", nofile=nofile)
        self.procs.append(p)
        p.debug = re.search(r"debug (\S+)\)", p.address_line).group(1)
        return p

    def open_idle(self, addr, n, timeout):
        """n idle connections to addr from 127.1.0.1 .. 127.1.59.1 (60 source addresses)."""
        host, port = addr.rsplit(":", 1)
        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])
        deadline = time.monotonic() + timeout
        for i in range(n):
            s = socket.socket()
            socks.append(s)
            s.bind((f"127.1.{i % 60}.1", 0))
            s.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                s.connect((host, int(port)))
            except OSError as e:
                self.fail(f"connection {i} of {n} not accepted within {timeout:.0f}s: {e}")
        return socks

    def test_raises_its_fd_limit_and_holds_15000_idle_clients(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard < IDLE_CLIENTS + 500:
            self.skipTest(f"a hard limit of {hard} open files cannot hold {IDLE_CLIENTS}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        b = self.start_backend(name="b")
        lb = self.start_lb_limited("--backend", b.url, "--idle-timeout", "300s",
                                   nofile=(1024, hard))
        wait_until(lambda: "soft limit 1024 raised to" in lb.stderr(),
                   10 * SLOW, what="the start-up line in the log")
        started = time.monotonic()
        socks = self.open_idle(lb.addr, IDLE_CLIENTS, 60 * SLOW)
        wait_until(lambda: metrics(lb.debug)["spindle_lb_client_connections"] >= IDLE_CLIENTS,
                   30 * SLOW, interval=0.2, what=f"the LB to serve {IDLE_CLIENTS} connections")
        print(f"\n{IDLE_CLIENTS} idle connections held after "
              f"{time.monotonic() - started:.1f}s", flush=True)
        # A new client is served, and so are held ones (the first, one in the middle, the last).
        self.assertEqual(request(lb.addr).text, "hello from b\n")
        for s in (socks[0], socks[len(socks) // 2], socks[-1]):
            s.settimeout(10 * SLOW)
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 200 "))
        m = metrics(lb.debug)
        self.assertEqual(m["spindle_lb_client_connections_refused_total"], 0)
        self.assertTrue(lb.alive())

    def test_max_connections_answers_503_over_the_limit(self):
        b = self.start_backend(name="b")
        lb = self.start_lb("--backend", b.url, "--max-connections", "5")
        held = [socket.create_connection(lb.addr.rsplit(":", 1)) for _ in range(5)]
        self.addCleanup(lambda: [s.close() for s in held])
        for s in held:  # served: each is a connection the LB counts
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 200 "))
        r = request(lb.addr)
        self.assertEqual(r.status, 503, r.text)
        self.assertEqual(r.header("Retry-After"), "1")
        held.pop().close()
        wait_until(lambda: request(lb.addr).status == 200, 5 * SLOW,
                   what="a connection served once one closed")
        wait_until(lambda: "client connections at most 5" in lb.stderr(),
                   10 * SLOW, what="the start-up line in the log")

    def test_emfile_backs_off_and_serves_again_when_the_hard_limit_is_low(self):
        b = self.start_backend(name="b")
        lb = self.start_lb_limited("--backend", b.url, nofile=(256, 256))
        wait_until(lambda: "soft limit 256 kept" in lb.stderr(),
                   10 * SLOW, what="the start-up line in the log")
        host, port = lb.addr.rsplit(":", 1)
        socks = [socket.create_connection((host, int(port))) for _ in range(400)]
        try:
            # Over the limit the kernel's backlog holds them while accept backs off.
            wait_until(lambda: "backing off" in lb.stderr(), 10 * SLOW,
                       what="the LB to run out of descriptors and back off")
            self.assertTrue(lb.alive())
        finally:
            for s in socks:
                s.close()
        wait_until(lambda: request(lb.addr, timeout=2).status == 200, 10 * SLOW,
                   what="a request served after the idle clients left")


if __name__ == "__main__":
    unittest.main(verbosity=2)
