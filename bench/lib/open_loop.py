"""What bench/load-vs-wrk and bench/load-stall share (python3 stdlib only): building
spindle-load, spindle-hello and the bare C open loop (bench/peers/c), and spindle-hello
serving on CPU 0 with one processor."""
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
