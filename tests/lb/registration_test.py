#!/usr/bin/env python3
"""spindle-lb registration, heartbeats, expiry within timeout + 1 s, re-registration after a
404, and the panic threshold (docs/lb-reference.md: "Contract" and "Failures")."""
import collections
import signal
import threading
import time
import unittest

from lbtest import (SLOW, LbTestCase, closed_port, in_threads, name_of, request, wait_until)


class Url:
    """An LB address for start_backend when no LB process exists (yet)."""

    def __init__(self, url):
        self.url = url

TIMEOUT_S = 1.0  # --heartbeat-timeout of these tests
FIELDS = ("url", "name", "healthy", "in_flight", "requests", "failures", "last_heartbeat_ms_ago")


class Registration(LbTestCase):
    def test_register_answers_heartbeat_interval_and_lists_backend(self):
        lb = self.start_lb()
        b = self.start_backend(name="solo")  # registered by the test, not by itself
        r = self.register(lb, b.url, name="solo")
        self.assertEqual(r.status, 200, r.text)
        interval = r.json()["heartbeat_interval_ms"]
        self.assertIsInstance(interval, (int, float))
        self.assertGreater(interval, 0)
        entry = self.backend_entry(lb, b.url)
        self.assertIsNotNone(entry, self.backends(lb))
        for field in FIELDS:
            self.assertIn(field, entry)
        self.assertEqual(entry["name"], "solo")
        self.assertIs(entry["healthy"], True)
        self.assertEqual(name_of(request(lb.addr)), "solo")

    def test_registering_again_is_a_heartbeat_not_a_duplicate(self):
        lb = self.start_lb()
        b = self.start_backend(name="twice")
        for _ in range(3):
            self.assertEqual(self.register(lb, b.url, name="twice").status, 200)
        urls = [e["url"].rstrip("/") for e in self.backends(lb)]
        self.assertEqual(urls.count(b.url), 1, urls)

    def test_registering_again_with_a_new_name_or_weight_updates_them(self):
        lb = self.start_lb()
        b = self.start_backend(name="v1")
        self.assertEqual(self.register(lb, b.url, name="v1").json()["registered"], True)
        r = self.admin(lb, "/_lb/register", {"url": b.url, "name": "v2", "weight": 3})
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual((r.json()["registered"], r.json()["updated"]), (False, True))
        [e] = self.backends(lb)
        self.assertEqual((e["name"], e["weight"]), ("v2", 3))
        r = self.admin(lb, "/_lb/register", {"url": b.url})  # no name, no weight: a heartbeat
        self.assertEqual(r.json()["updated"], False)
        [e] = self.backends(lb)
        self.assertEqual((e["name"], e["weight"]), ("v2", 3))

    def test_heartbeat_204_known_404_unknown(self):
        lb = self.start_lb()
        b = self.start_backend(name="hb")
        self.assertEqual(self.register(lb, b.url).status, 200)
        self.assertEqual(self.admin(lb, "/_lb/heartbeat", {"url": b.url}).status, 204)
        r = self.admin(lb, "/_lb/heartbeat", {"url": "http://127.0.0.1:9"})
        self.assertEqual(r.status, 404, r.text)

    def test_deregister_204_then_no_new_requests(self):
        lb = self.start_lb()
        a, b = self.start_backend(name="stay"), self.start_backend(name="leave")
        for x in (a, b):
            self.assertEqual(self.register(lb, x.url, name=x.backend_name).status, 200)
        self.assertEqual(self.admin(lb, "/_lb/deregister", {"url": b.url}).status, 204)
        names = {name_of(request(lb.addr)) for _ in range(10)}
        self.assertEqual(names, {"stay"})
        self.assertEqual(self.stats(b)["requests"], 0)

    def test_backend_process_registers_and_heartbeats_past_the_timeout(self):
        lb, (b,) = self.lb_with_backends(1, "--heartbeat-timeout", "1s")
        # Three timeouts later it is still there, kept alive by its own heartbeats.
        first = self.backend_entry(lb, b.url)
        deadline = time.monotonic() + 3 * TIMEOUT_S
        while time.monotonic() < deadline:
            self.assertTrue(self.routable(lb, b.url), self.backends(lb))
            time.sleep(0.1)
        self.assertLess(self.backend_entry(lb, b.url)["last_heartbeat_ms_ago"], 1000 * TIMEOUT_S,
                        first)
        self.assertEqual(name_of(request(lb.addr)), "b0")

    def test_silent_backend_expires_within_timeout_plus_1s(self):
        # Three heartbeating backends and one the test registers once and never again: only a
        # minority is silent, so no panic threshold applies and it must go.
        lb, live = self.lb_with_backends(3, "--heartbeat-timeout", "1s")
        silent = self.start_backend(name="silent")
        self.assertEqual(self.register(lb, silent.url, name="silent").status, 200)
        registered = time.monotonic()
        wait_until(lambda: not self.routable(lb, silent.url), TIMEOUT_S + 1.0 + 0.25,
                   what="the silent backend to expire within timeout + 1 s")
        self.assertLessEqual(time.monotonic() - registered, TIMEOUT_S + 1.25)
        before = self.stats(silent)["requests"]
        names = collections.Counter(name_of(request(lb.addr)) for _ in range(12))
        self.assertEqual(set(names), {"b0", "b1", "b2"}, names)
        self.assertEqual(self.stats(silent)["requests"], before)
        self.assertTrue(all(self.routable(lb, b.url) for b in live))

    def test_expired_backend_registers_again_after_404(self):
        lb, live = self.lb_with_backends(3, "--heartbeat-timeout", "1s")
        b = self.start_backend(lb, name="sleepy")
        self.wait_backends(lb, [b])
        b.signal(signal.SIGSTOP)  # its heartbeats stop; a minority: it expires
        try:
            wait_until(lambda: not self.routable(lb, b.url), (TIMEOUT_S + 1.25) * SLOW,
                       what="the stopped backend to expire")
        finally:
            b.signal(signal.SIGCONT)
        # Its next heartbeat gets 404, it registers again and traffic reaches it.
        wait_until(lambda: self.routable(lb, b.url), 5 * SLOW, what="re-registration after 404")
        names = {name_of(request(lb.addr)) for _ in range(8)}
        self.assertIn("sleepy", names)
        wait_until(lambda: "404" in b.stderr(), 10 * SLOW, what="the 404 in the backend's log")

    def test_panic_threshold_keeps_routing_when_most_backends_go_silent(self):
        # A 2 s timeout: a 667 ms heartbeat interval, and heartbeats that stop within
        # min(interval, 750 ms) of each other are one outage (docs/lb.md, "Expiry").
        lb, bs = self.lb_with_backends(4, "--heartbeat-timeout", "2s")
        # Only backends that answer requests count toward the threshold: round-robin gives
        # each of the four two requests.
        self.assertEqual({name_of(request(lb.addr)) for _ in range(8)}, {"b0", "b1", "b2", "b3"})
        silent, threads = bs[1:], []
        for b in silent:
            b.signal(signal.SIGSTOP)
        # Their last heartbeats are the test's, a few ms apart: the outage's moment is the
        # test's, not the stopped processes' heartbeat phases (a loaded machine cannot split it).
        for b in silent:
            self.assertEqual(self.admin(lb, "/_lb/heartbeat", {"url": b.url}).status, 204)
        try:
            # Past timeout + 1 s the three silent ones would have expired; instead the LB keeps
            # them (Envoy's panic threshold) and says so in its log, none expired alone first.
            wait_until(lambda: "panic threshold:" in lb.stderr(), (2 + 1) * SLOW + 1,
                       what="the LB to log that it keeps the silent backends")
            self.assertNotIn("expired", lb.stderr())
            listed = [self.backend_entry(lb, b.url) for b in bs]
            self.assertTrue(all(e is not None for e in listed), self.backends(lb))
            # Requests sent now are routed to the stopped backends too: they show in the LB's
            # in_flight count while parked there, and are answered once the backends resume.
            results = []
            threads = [threading.Thread(target=lambda: results.append(name_of(request(lb.addr))))
                       for _ in range(8)]
            for t in threads:
                t.start()

            def parked_on_silent():
                return sum((self.backend_entry(lb, b.url) or {}).get("in_flight", 0)
                           for b in silent) >= 1

            wait_until(parked_on_silent, 5 * SLOW,
                       what="a request routed to a silent backend (in_flight > 0)")
        finally:
            for b in silent:
                b.signal(signal.SIGCONT)
        for t in threads:
            t.join(timeout=10 * SLOW)
        self.assertEqual(len(results), 8)
        self.assertTrue(set(results) & {"b1", "b2", "b3"},
                        f"no request routed to the silent backends: {results}")

    def test_silent_entries_that_never_answered_expire_however_many(self):
        # Mass registration of unreachable URLs that then go silent: they never answered a
        # request, so they do not count toward "most went silent" and expire; the static
        # backends take all the traffic.
        static = [self.start_backend(None, name=f"s{i}") for i in range(3)]
        lb = self.start_lb("--heartbeat-timeout", "1s",
                           *[arg for b in static for arg in ("--backend", b.url)])
        dead = [f"http://127.0.0.1:{closed_port()}" for _ in range(30)]
        for url in dead:
            self.assertEqual(self.register(lb, url).status, 200)
        wait_until(lambda: len(self.backends(lb)) == 3, (TIMEOUT_S + 1.25) * SLOW,
                   what="the 30 silent entries to expire")
        self.assertNotIn("keeping them", lb.stderr())
        statuses = collections.Counter(request(lb.addr).status for _ in range(12))
        self.assertEqual(statuses, {200: 12})

    def test_panic_threshold_does_not_keep_backends_that_fail_requests(self):
        lb, bs = self.lb_with_backends(4, "--heartbeat-timeout", "1s")
        self.assertEqual({name_of(request(lb.addr)) for _ in range(8)}, {"b0", "b1", "b2", "b3"})
        dead = bs[1:]
        for b in dead:
            b.kill()  # silent, and refusing connections
        # Most went silent, but requests routed to them fail (another backend answers).
        for _ in range(8):
            self.assertEqual(name_of(request(lb.addr)), "b0")
        wait_until(lambda: len(self.backends(lb)) == 1, (TIMEOUT_S + 1.25) * SLOW,
                   what="the failing silent backends to expire")
        self.assertEqual(self.backends(lb)[0]["url"].rstrip("/"), bs[0].url)

    def test_backend_waits_for_the_lb_and_registers_when_it_comes_up(self):
        port = closed_port()
        b = self.start_backend(Url(f"http://127.0.0.1:{port}"), name="early")
        wait_until(lambda: "retrying" in b.stderr(), 5 * SLOW, what="the backend to log a retry")
        lb = self.start_lb(listen=f"127.0.0.1:{port}")
        # Back-off is at most 5 s between attempts.
        wait_until(lambda: self.routable(lb, b.url), 7 * SLOW, what="registration once up")
        self.assertEqual(name_of(request(lb.addr)), "early")

    def test_lb_restart_backend_registers_again_after_404(self):
        port = closed_port()
        lb = self.start_lb(listen=f"127.0.0.1:{port}")
        b = self.start_backend(lb, name="loyal")
        self.wait_backends(lb, [b])
        lb.kill()
        lb2 = self.start_lb(listen=f"127.0.0.1:{port}")  # forgets every backend
        wait_until(lambda: self.routable(lb2, b.url), 5 * SLOW,
                   what="re-registration with the restarted LB")
        self.assertEqual(name_of(request(lb2.addr)), "loyal")

    def test_concurrent_registrations_from_many_backends(self):
        lb = self.start_lb()
        bs = [self.start_backend(name=f"c{i}") for i in range(8)]
        statuses = in_threads(8, lambda i: self.register(lb, bs[i].url, name=f"c{i}").status)
        self.assertEqual(statuses, [200] * 8)
        self.assertEqual(len(self.backends(lb)), 8)


if __name__ == "__main__":
    unittest.main(verbosity=2)
