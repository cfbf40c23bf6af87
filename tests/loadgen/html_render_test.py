"""spindle-load's HTML report renders in a real browser, drawing its plots from nothing but the
file itself.

A short real ramp (spindle-load against spindle-backend on loopback) writes the page; Debian's
chromium (installed by scripts/ensure-packages when missing, with python3-pil) loads a copy of
it with a probe script added to its head, headless, once: it takes a screenshot and dumps the
DOM, where the probe left, after the load event, the errors it saw (script errors and resources
that failed), every resource the page fetched, and where each plot, each series' line and each
legend swatch was laid out. The test then checks, on the screenshot's pixels, that each plot is
drawn there: its grid, every legend swatch in its series' colour, every series' line in its
colour (or in the colour of a series drawn over it). Chromium's console (--enable-logging)
must stay silent and the page must fetch nothing.

Environment (set by tests/loadgen/CMakeLists.txt): SPINDLE_LOAD, SPINDLE_BACKEND (binaries).
"""
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOAD_BIN = os.environ.get("SPINDLE_LOAD", "")
BACKEND_BIN = os.environ.get("SPINDLE_BACKEND", "")
WIDTH, HEIGHT = 1000, 2400  # the window; the plots sit in the first ~1,500 px

# Runs in the page copy (added right after <head>): records errors from the start, and at the
# load event writes what it found into <pre id="probe"> at the end of the body (below all of
# the page's own content, so it moves none of it).
PROBE = """<script>
window.__probe_errors = [];
addEventListener('error', function (e) {
  __probe_errors.push(String(e.message || (e.target && (e.target.src || e.target.href)) || e));
}, true);
addEventListener('load', function () {
  function box(el) {
    var r = el.getBoundingClientRect();
    return {x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height};
  }
  var plots = Array.prototype.map.call(document.querySelectorAll('svg'), function (svg) {
    return {
      box: box(svg),
      caption: svg.parentNode.querySelector('figcaption').textContent,
      lines: Array.prototype.map.call(svg.querySelectorAll('polyline'), function (l) {
        return {box: box(l), color: l.getAttribute('stroke')};
      }),
      swatches: Array.prototype.map.call(svg.querySelectorAll('rect'), function (r) {
        return {box: box(r), color: r.getAttribute('fill')};
      })
    };
  });
  var pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify({
    errors: __probe_errors,
    fetched: performance.getEntriesByType('resource').map(function (r) { return r.name; }),
    plots: plots
  });
  document.body.appendChild(pre);
});
</script>"""


def read_address(proc, timeout=10):
    """The first host:port the process prints on stdout."""
    deadline = time.monotonic() + timeout
    buf = b""
    while time.monotonic() < deadline:
        r, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not r:
            break
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            break
        buf += chunk
        m = re.search(rb"(\d+\.\d+\.\d+\.\d+:\d+)", buf)
        if m:
            return m.group(1).decode()
    raise AssertionError(f"no address printed within {timeout}s: {buf!r}")


def rgb(color):
    m = re.fullmatch(r"#([0-9a-fA-F]{2})([0-9a-fA-F]{2})([0-9a-fA-F]{2})", color or "")
    if not m:
        raise AssertionError(f"unexpected colour {color!r}")
    return tuple(int(g, 16) for g in m.groups())


def count_near(image, box, colors, pad=0, tolerance=48):
    """Pixels of image inside box (grown by pad) within tolerance of any of colors."""
    x0, y0 = max(0, int(box["x"]) - pad), max(0, int(box["y"]) - pad)
    x1 = min(image.width, int(box["x"] + box["w"] + 0.999) + pad)
    y1 = min(image.height, int(box["y"] + box["h"] + 0.999) + pad)
    if x1 <= x0 or y1 <= y0:
        return 0
    n = 0
    for p in image.crop((x0, y0, x1, y1)).getdata():
        if any(max(abs(p[i] - c[i]) for i in range(3)) <= tolerance for c in colors):
            n += 1
    return n


class HtmlRenderTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="spindle-html-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, ignore_errors=True)
        cls.page = os.path.join(cls.dir, "report.html")
        server = subprocess.Popen([BACKEND_BIN, "--listen", "127.0.0.1:0", "--debug-listen",
                                   "off", "--name", "scripted"], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        try:
            url = f"http://{read_address(server)}/"
            load = subprocess.run([LOAD_BIN, "--ramp", "100:100:300", "--step-duration",
                                   "700ms", "--debug-listen", "off", "--html", cls.page, url],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  timeout=60)
        finally:
            server.kill()
            server.wait()
            server.stdout.close()
        assert load.returncode == 0, load.stderr
        assert load.stdout.count("--- ") == 3, load.stdout  # three steps ran and were reported

        with open(cls.page, encoding="utf-8") as f:
            cls.html = f.read()
        probed = os.path.join(cls.dir, "probed.html")
        with open(probed, "w", encoding="utf-8") as f:
            f.write(cls.html.replace("<head>", "<head>" + PROBE, 1))
        cls.png = os.path.join(cls.dir, "shot.png")
        chromium = subprocess.run(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--hide-scrollbars", "--force-device-scale-factor=1",
             f"--window-size={WIDTH},{HEIGHT}", f"--screenshot={cls.png}", "--dump-dom",
             "--enable-logging=stderr", "--v=0", "file://" + probed],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120,
            env=dict(os.environ, DBUS_SESSION_BUS_ADDRESS="disabled:"))
        cls.chromium_log = chromium.stderr
        m = re.search(r'<pre id="probe">(.*?)</pre>', chromium.stdout, re.S)
        assert m, f"the probe did not run: {chromium.stdout[-500:]!r} {chromium.stderr[-2000:]}"
        cls.probe = json.loads(m.group(1).replace("&lt;", "<").replace("&gt;", ">")
                               .replace("&quot;", '"').replace("&amp;", "&"))

    def test_the_file_fetches_nothing(self):
        self.assertEqual(re.findall(r"https?://[^\s\"'<>]*", self.html), [])
        self.assertEqual(self.probe["fetched"], [])

    def test_no_errors_in_the_console(self):
        console = [l for l in self.chromium_log.splitlines() if ":CONSOLE" in l]
        self.assertEqual(console, [])
        self.assertEqual(self.probe["errors"], [])

    def test_the_plots_are_drawn(self):
        from PIL import Image  # installed by main()

        image = Image.open(self.png).convert("RGB")
        self.assertEqual(image.size, (WIDTH, HEIGHT))
        plots = self.probe["plots"]
        self.assertEqual([p["caption"].split(" ")[0] for p in plots],
                         ["Latency", "Throughput", "Latency"])
        series = {"Latency percentiles": 4, "Throughput and errors": 3, "Latency distribution": 3}
        for plot in plots:
            with self.subTest(plot=plot["caption"]):
                box = plot["box"]
                self.assertLessEqual(box["y"] + box["h"], HEIGHT, "plot below the screenshot")
                self.assertGreater(box["w"] * box["h"], 100_000)
                name = next(k for k in series if plot["caption"].startswith(k))
                self.assertEqual(len(plot["lines"]), series[name])
                self.assertEqual(len(plot["swatches"]), series[name])
                # The grid (#ddd lines) is drawn. How much of it shows depends on the axes'
                # ranges, so on the latencies measured, and on the series drawn over it: 570
                # pixels on a quiet machine and 426 on a busy one in the latency plot. A quarter
                # of the plot's width keeps a margin and still fails when there is no grid.
                self.assertGreater(count_near(image, box, [(0xdd, 0xdd, 0xdd)], tolerance=8),
                                   box["w"] // 4, f"grid pixels, box {box}")
                for s in plot["swatches"]:  # 12 x 3 px each
                    self.assertGreaterEqual(count_near(image, s["box"], [rgb(s["color"])]), 20,
                                            f"legend swatch {s['color']}")
                colors = [rgb(l["color"]) for l in plot["lines"]]
                for i, line in enumerate(plot["lines"]):
                    # Its own colour, or that of a series drawn later over it (equal values).
                    self.assertGreaterEqual(count_near(image, line["box"], colors[i:], pad=3), 15,
                                            f"series {line['color']} not drawn")


def main():
    subprocess.run([os.path.join(ROOT, "scripts", "ensure-packages"), "chromium",
                    "python3-pil"], check=True)
    try:
        import PIL  # noqa: F401
    except ImportError:
        # python3-pil serves Debian's own python3; this one (a virtualenv, pyenv) lacks it.
        debian = "/usr/bin/python3"
        if os.path.realpath(sys.executable) == os.path.realpath(debian):
            raise
        os.execv(debian, [debian, "-u", os.path.abspath(__file__)] + sys.argv[1:])
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()
