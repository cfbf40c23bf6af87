#!/usr/bin/env python3
"""The event log (docs/lb-reference.md, "Logs"): every line of spindle-lb and spindle-backend
carries an RFC 3339 timestamp and a level, as text or JSON (--log-format), filtered by
--log-level."""
import json
import re
import signal
import unittest

from lbtest import (BACKEND_BIN, LB_BIN, SLOW, LbTestCase, Proc, wait_until)

TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"
TEXT_LINE = re.compile(TIME + r" (DEBUG|INFO|WARN|ERROR) (spindle-lb|spindle-backend): .+")


class EventLog(LbTestCase):
    def stop(self, p):
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait(15 * SLOW), 0, p.stderr()[-2000:])
        return p.stderr()

    def test_text_lines_carry_time_and_level(self):
        lb = self.start_lb()
        b = self.start_backend(lb, name="b1")
        self.wait_backends(lb, [b])
        b_err = self.stop(b)
        wait_until(lambda: "deregistered" in lb.stderr(), 5 * SLOW, what="the deregistration")
        lb_err = self.stop(lb)
        for name, err in (("spindle-lb", lb_err), ("spindle-backend", b_err)):
            lines = err.splitlines()
            self.assertTrue(lines, f"{name} logged nothing")
            for line in lines:
                self.assertRegex(line, TEXT_LINE, f"{name}: not an event line")
        self.assertRegex(lb_err, TIME + r" INFO spindle-lb: backend http://\S+ added \(b1\)")

    def test_json_lines_parse(self):
        lb = self.start_lb("--log-format", "json")
        b = self.start_backend(lb, "--log-format", "json", name="b1")
        self.wait_backends(lb, [b])
        b_err = self.stop(b)
        lb_err = self.stop(lb)
        for program, err in (("spindle-lb", lb_err), ("spindle-backend", b_err)):
            events = [json.loads(line) for line in err.splitlines()]
            self.assertTrue(events, f"{program} logged nothing")
            for e in events:
                self.assertEqual(set(e), {"time", "level", "program", "msg"}, e)
                self.assertRegex(e["time"], "^" + TIME + "$")
                self.assertIn(e["level"], ("DEBUG", "INFO", "WARN", "ERROR"))
                self.assertEqual(e["program"], program)
        self.assertTrue(any(re.fullmatch(r"backend http://\S+ added \(b1\)", e["msg"])
                            for e in map(json.loads, lb_err.splitlines())), lb_err)

    def test_log_level_hides_lower_levels(self):
        lb = self.start_lb("--log-level", "warn")
        b = self.start_backend(lb, "--log-level", "error", name="b1")
        self.wait_backends(lb, [b])
        b_err = self.stop(b)
        lb_err = self.stop(lb)
        self.assertNotIn(" INFO ", lb_err)
        self.assertNotIn("added", lb_err)
        self.assertEqual(b_err, "")

    def test_bad_log_flags_are_refused(self):
        for binary, flags, says in ((LB_BIN, ("--log-level", "loud"), "--log-level"),
                                    (LB_BIN, ("--log-format", "xml"), "--log-format"),
                                    (BACKEND_BIN, ("--log-level", "loud"), "--log-level"),
                                    (BACKEND_BIN, ("--log-format", "xml"), "--log-format")):
            p = Proc([binary, *flags], "refused", expect_address=False)
            self.procs.append(p)
            self.assertNotEqual(p.wait(10 * SLOW), 0, f"{flags} accepted")
            self.assertIn(says, p.stderr())


if __name__ == "__main__":
    unittest.main()
