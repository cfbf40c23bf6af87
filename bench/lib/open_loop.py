"""What bench/load-vs-wrk and bench/load-stall share (python3 stdlib only): building
spindle-load, spindle-hello and the bare C open loop (bench/peers/c), spindle-hello serving on
CPU 0 with one processor, and the generators' command lines on CPU 1."""
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BARE_BIN = os.path.join(ROOT, "build", "c", "bare-open-loop")
LOAD_BIN = "build/release/cmd/spindle-load/spindle-load"  # relative to ROOT


def build(packages):
    """Installs `packages` (and what the bare loop needs), builds the release spindle-hello and
    spindle-load and the bare loop. Run from ROOT."""
    subprocess.run(["scripts/ensure-packages", *packages, "gcc", "liburing-dev"], check=True)
    subprocess.run(["cmake", "--preset", "release"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", "--preset", "release", "-j2", "--target",
                    "spindle-hello", "spindle-load"], check=True, stdout=subprocess.DEVNULL)
    os.makedirs(os.path.dirname(BARE_BIN), exist_ok=True)
    subprocess.run(["gcc", "-O2", "-Wall", "-o", BARE_BIN, "bench/peers/c/bare-open-loop.c",
                    "-luring"], check=True)


def start_server():
    """spindle-hello on CPU 0 with one processor: (its process, its URL). taskset execs the
    server, so the process's pid is the server's."""
    server = subprocess.Popen(["taskset", "-c", "0", "build/release/bench/http/spindle-hello"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              env=dict(os.environ, SPINDLE_MAXPROCS="1"))
    return server, "http://" + server.stdout.readline().strip() + "/"


def load_cmd(binary, url, rate, duration):
    """One cold step of spindle-load on CPU 1 with one processor, its report in JSON."""
    return ["taskset", "-c", "1", binary, "--procs", "1", "--rate", str(rate), "--duration",
            duration, "--connections", "1000", "--debug-listen", "off", "--output", "json", url]


def bare_cmd(url, rate, duration, io):
    """The bare C open loop on CPU 1, on io ("uring" or "epoll"); duration like "3s"."""
    return ["taskset", "-c", "1", BARE_BIN, "-addr", url.split("/")[2], "-rate", str(rate),
            "-duration-s", duration.rstrip("s"), "-conns", "1000", "-io", io]
