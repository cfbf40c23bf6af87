#!/usr/bin/env python3
"""The registration API's bad input and access control (docs/lb-reference.md, "Contract" and
"Bad input"): malformed JSON, URLs that are not http://host:port, a URL pointing at the LB
itself, too many backends, missing or wrong tokens → 4xx with a clear message; and the refusal
to start with open registration on a non-loopback address."""
import json
import subprocess
import unittest

from lbtest import BACKEND_BIN, SLOW, LbTestCase, Proc, LB_BIN, request


class BadInput(LbTestCase):
    def assert_4xx(self, r, what):
        self.assertTrue(400 <= r.status < 500, f"{what}: got {r.status} {r.text!r}")
        self.assertGreater(len(r.text.strip()), 3, f"{what}: 4xx without a message")

    def test_malformed_json(self):
        lb = self.start_lb()
        for raw in ("{", "not json", '{"url": }', "[]", '"http://127.0.0.1:1"', "", "{}",
                    '{"url": 42}', '{"url": null}', '{"name": "x"}', "\x00\xff"):
            for path in ("/_lb/register", "/_lb/heartbeat", "/_lb/deregister"):
                self.assert_4xx(self.admin(lb, path, None, raw=raw), f"{path} {raw!r}")
        self.assertEqual(self.backends(lb), [])
        self.assertTrue(lb.alive())

    def test_url_not_http_host_port(self):
        lb = self.start_lb()
        for url in ("https://127.0.0.1:8443", "ftp://127.0.0.1:21", "127.0.0.1:80",
                    "http://127.0.0.1", "http://:80", "http://127.0.0.1:notaport",
                    "http://127.0.0.1:99999", "http://user@127.0.0.1:80", "", "http://",
                    "http://127.0.0.1:80/path", "http://127.0.0.1:80?q", "javascript:alert(1)"):
            self.assert_4xx(self.register(lb, url), f"register {url!r}")
        self.assertEqual(self.backends(lb), [])

    def test_url_pointing_at_the_lb_itself(self):
        lb = self.start_lb()
        port = lb.addr.rsplit(":", 1)[1]
        for url in (lb.url, f"http://localhost:{port}", f"http://127.0.0.1:{port}",
                    f"http://0.0.0.0:{port}", f"http://[::]:{port}",
                    f"http://[::ffff:0.0.0.0]:{port}"):
            self.assert_4xx(self.register(lb, url), f"register the LB itself {url!r}")
        self.assertEqual(self.backends(lb), [])

    def test_wrong_method_is_405_with_allow(self):
        lb = self.start_lb()
        for method, path, allow in (("GET", "/_lb/register", "POST"),
                                    ("PUT", "/_lb/heartbeat", "POST"),
                                    ("POST", "/_lb/backends", "GET, HEAD")):
            r = request(lb.addr, method, path, body=b"" if method != "GET" else None)
            self.assertEqual(r.status, 405, f"{method} {path}")
            self.assertEqual(r.header("Allow"), allow, f"{method} {path}")
            self.assertIn("use", r.text)

    def test_wrong_types_and_names_say_what_is_wrong(self):
        lb = self.start_lb()
        r = self.admin(lb, "/_lb/register", {"url": 5})
        self.assertEqual(r.status, 400)
        self.assertIn("must be a string", r.text)
        b = self.start_backend(name="n")
        for name in ("a\r\nX-Evil: 1", "a\u0000b", "tab\there", "del\u007f"):
            r = self.admin(lb, "/_lb/register", {"url": b.url, "name": name})
            self.assertEqual(r.status, 400, f"name {name!r}: {r.status} {r.text}")
            self.assertIn("control", r.text)
        self.assertEqual(self.backends(lb), [])

    def test_static_backend_is_not_deregistered(self):
        b = self.start_backend(name="s")
        lb = self.start_lb("--backend", b.url)
        r = self.admin(lb, "/_lb/deregister", {"url": b.url})
        self.assertEqual(r.status, 409, r.text)
        self.assertIn("static", r.text)
        self.assertEqual([x["url"] for x in self.backends(lb)], [b.url])

    def test_too_many_backends(self):
        lb = self.start_lb("--max-backends", "2")
        bs = [self.start_backend(name=f"m{i}") for i in range(3)]
        self.assertEqual(self.register(lb, bs[0].url).status, 200)
        self.assertEqual(self.register(lb, bs[1].url).status, 200)
        self.assert_4xx(self.register(lb, bs[2].url), "third backend over --max-backends 2")
        self.assertEqual(self.register(lb, bs[1].url).status, 200)  # a known one: a heartbeat
        self.assertEqual(len(self.backends(lb)), 2)

    def test_token_required_for_the_three_posts(self):
        lb = self.start_lb("--register-token", "s3cret")
        b = self.start_backend(name="t")
        for token in (None, "wrong", "", "s3cre", "s3cret2", "S3CRET"):
            for path in ("/_lb/register", "/_lb/heartbeat", "/_lb/deregister"):
                r = self.admin(lb, path, {"url": b.url}, token=token)
                self.assertEqual(r.status, 401, f"{path} token {token!r}: {r.status} {r.text}")
                self.assertTrue(r.text.strip(), "401 without a message")
        r = request(lb.addr, "POST", "/_lb/register", body=json.dumps({"url": b.url}),
                    headers={"Authorization": "Basic s3cret"})
        self.assertEqual(r.status, 401, "a token under another scheme was accepted")
        r = request(lb.addr, "POST", "/_lb/heartbeat", body=json.dumps({"url": b.url}),
                    headers={"Authorization": "bearer s3cret"})
        self.assertEqual(r.status, 404, "the scheme name is case-insensitive (RFC 9110 §11.1)")
        self.assertEqual(self.register(lb, b.url, token="s3cret").status, 200)
        self.assertEqual(self.admin(lb, "/_lb/heartbeat", {"url": b.url}, token="s3cret").status,
                         204)
        self.assertEqual(request(lb.addr).status, 200)

    def test_token_from_environment_and_backend_sends_it(self):
        lb = self.start_lb(env={"SPINDLE_REGISTER_TOKEN": "envtok"})
        self.assertEqual(self.register(lb, "http://127.0.0.1:9", token="nope").status, 401)
        b = self.start_backend(lb, "--register-token", "envtok", name="tok")
        self.wait_backends(lb, [b])
        self.assertEqual(request(lb.addr).text.strip(), "hello from tok")


class ApiPaths(LbTestCase):
    """Which requests reach the API: decided once on the normalised path (docs/lb.md, "The
    API's paths"), so no other spelling of an API path is proxied to a backend."""

    def test_api_paths_in_other_spellings_reach_the_api_not_a_backend(self):
        fake = self.fake_backend("fake", lambda n: "ok")
        lb = self.start_lb("--backend", fake.url)
        b = self.start_backend(name="spelled")
        body = json.dumps({"url": b.url})
        for path in ("http://x/_lb/register", "HTTP://x:80/_lb/register?x=1",
                     "/x/../_lb/register", "/%5flb/register", "/%5Flb/register",
                     "/%5F%6c%62/register", "//_lb/register", "/_lb/./register",
                     "/_lb//register", "/_lb/%2e/register", "/a/b/%2E%2E/../_lb/register",
                     "/../_lb/register"):
            r = request(lb.addr, "POST", path, body=body)
            self.assertEqual(r.status, 200, f"POST {path}: {r.status} {r.text}")
            self.assertIn("heartbeat_interval_ms", r.json(), path)
        for path in ("http://x/_lb/backends", "/a/../_lb/backends", "/%5flb/backends"):
            r = request(lb.addr, "GET", path)
            self.assertEqual(r.status, 200, f"GET {path}: {r.status} {r.text}")
            self.assertIsInstance(r.json(), list, path)
        # The rest of /_lb/ is the API's too: 404, with the API's paths.
        for path in ("/_lb/registerx", "/_lb/register/.", "/_lb/register/x/..", "/%5flb/nothing",
                     "/_lb"):
            r = request(lb.addr, "POST", path, body=body)
            self.assertEqual(r.status, 404, f"POST {path}: {r.status} {r.text}")
            self.assertIn("/_lb/register", r.json()["error"])
        self.assertEqual(fake.requests, 0)
        # Paths that only look alike are proxied as they came.
        for path in ("/_lbx/register", "/_LB/register", "/%5flb%2fregister", "/x/_lb/register"):
            r = request(lb.addr, "POST", path, body=body)
            self.assertTrue(r.text.startswith("hello from "), f"POST {path}: {r.text}")

    def test_backends_list_needs_the_token_when_one_is_set(self):
        lb = self.start_lb("--register-token", "s3cret")
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret"}):
            r = request(lb.addr, "GET", "/_lb/backends", headers=headers)
            self.assertEqual(r.status, 401, f"{headers}: {r.status} {r.text}")
            self.assertEqual(r.header("WWW-Authenticate"), "Bearer")
            self.assertNotIn("http://", r.text)
        r = request(lb.addr, "GET", "/_lb/backends", headers={"Authorization": "Bearer s3cret"})
        self.assertEqual((r.status, r.json()), (200, []))

    def test_admin_listener_serves_the_api_and_the_traffic_port_proxies_its_paths(self):
        fake = self.fake_backend("fake", lambda n: "ok")
        lb = self.start_lb("--backend", fake.url, "--admin-listen", "127.0.0.1:0")
        self.assertNotEqual(lb.admin_addr, lb.addr)
        b = self.start_backend(lb, name="reg")  # registers on the admin listener
        self.wait_backends(lb, [b])
        urls = sorted(e["url"] for e in self.backends(lb))
        self.assertEqual(urls, sorted([fake.url, b.url]))
        # On the traffic port the API's paths are paths like any other: proxied.
        before = fake.requests
        seen = set()
        for _ in range(4):
            r = request(lb.addr, "GET", "/_lb/backends")
            self.assertEqual(r.status, 200)
            seen.add(r.text.strip())
        self.assertEqual(seen, {"hello from fake", "hello from reg"})
        self.assertEqual(fake.requests, before + 2)
        # The admin listener serves nothing else.
        r = request(lb.admin_addr, "GET", "/")
        self.assertEqual(r.status, 404, r.text)
        self.assertIn("/_lb/", r.text)

    def test_open_registration_only_on_a_loopback_admin_listener(self):
        lb = self.start_lb("--admin-listen", "127.0.0.1:0", listen="0.0.0.0:0",
                           env={"SPINDLE_REGISTER_TOKEN": ""})
        self.assertTrue(lb.alive())
        p = Proc([LB_BIN, "--debug-listen", "off", "--listen", "127.0.0.1:0", "--admin-listen",
                  "0.0.0.0:0"], "spindle-lb", env={"SPINDLE_REGISTER_TOKEN": ""},
                 expect_address=False)
        self.procs.append(p)
        self.assertNotEqual(p.wait(10 * SLOW), 0)
        self.assertIn("--admin-listen", p.stderr())


class StartupSafety(LbTestCase):
    def run_lb(self, *flags, env=None):
        """Starts spindle-lb expecting it to exit at once: (exit code, stderr)."""
        p = Proc([LB_BIN, "--debug-listen", "off", *flags], "spindle-lb", env=env,
                 expect_address=False)
        self.procs.append(p)
        try:
            return p.wait(10 * SLOW), p.stderr()
        except AssertionError:
            self.fail(f"spindle-lb {' '.join(flags)} did not refuse to start")

    def test_refuses_non_loopback_without_token(self):
        code, err = self.run_lb("--listen", "0.0.0.0:0", env={"SPINDLE_REGISTER_TOKEN": ""})
        self.assertNotEqual(code, 0)
        self.assertIn("token", err.lower(), f"the refusal does not say why: {err!r}")

    def test_refuses_nonsense_flag_values(self):
        for flags, says in ((("--heartbeat-timeout", "0"), "--heartbeat-timeout"),
                            (("--heartbeat-timeout", "3x"), "--heartbeat-timeout"),
                            (("--max-backends", "-1"), "--max-backends"),
                            (("--max-idle-per-backend", "-1"), "--max-idle-per-backend"),
                            (("--max-in-flight", "-5"), "--max-in-flight"),
                            (("--max-in-flight", "lots"), "--max-in-flight"),
                            (("--panic-share", "7"), "--panic-share"),
                            (("--eject-after", "0"), "--eject-after"),
                            (("--body-timeout", "0"), "--body-timeout"),
                            (("--max-connections", "0"), "--max-connections"),
                            (("--procs", "-3"), "--procs")):
            code, err = self.run_lb("--listen", "127.0.0.1:0", *flags)
            self.assertNotEqual(code, 0, f"{flags} accepted")
            self.assertIn(says, err, f"{flags}: the error does not name the flag: {err!r}")

    def test_backend_refuses_a_bad_advertise_url(self):
        for bad in ("notaurl", "https://127.0.0.1:8443", "http://127.0.0.1:80/path"):
            p = subprocess.run([BACKEND_BIN, "--advertise", bad], capture_output=True, text=True,
                               timeout=10 * SLOW)
            self.assertEqual(p.returncode, 2, f"--advertise {bad}: {p.stderr}")
            self.assertIn("--advertise", p.stderr)

    def test_starts_non_loopback_with_token_or_insecure_flag(self):
        lb = self.start_lb("--register-token", "t", listen="0.0.0.0:0")
        self.assertTrue(lb.alive())
        lb2 = self.start_lb("--insecure-open-registration", listen="0.0.0.0:0")
        self.assertTrue(lb2.alive())

    def test_help_documents_every_flag(self):
        p = Proc([LB_BIN, "--help"], "spindle-lb", expect_address=False)
        self.procs.append(p)
        p.wait(10 * SLOW)
        out = p.p.stdout.read().decode() + p.stderr()
        for flag in ("--listen", "--debug-listen", "--register-token", "--insecure-open-registration",
                     "--policy", "--backend", "--heartbeat-timeout", "--max-idle-per-backend",
                     "--max-conns-per-backend", "--connect-timeout", "--response-header-timeout",
                     "--idle-timeout", "--max-in-flight", "--procs", "--max-backends",
                     "--admin-listen", "--max-connections", "--request-buffer",
                     "--body-timeout", "--body-min-rate", "--log-level", "--log-format"):
            self.assertIn(flag, out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
