"""What isolation costs: a fresh worker's start, layer by layer, and a warm cell's round trip.

One script, one machine state, rounds interleaved: each round starts a worker with no
confinement and no limits, then adds rlimits, the namespaces, the private root, the PID
namespace, Landlock and seccomp one at a time (the cost of a layer is the difference of
medians), against the floor of any Python process (`python -I -S -c pass`). Then a warm
cell round trip (`Sandbox.run("1")` on a started, fully confined worker) against a bare JSON
frame echoed by a plain child process over a pipe pair, and the thread hop onto the hub's
event loop that every run makes.

    python bench/isolation.py [--rounds 20] [--cells 300]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from codemode.hub import get_portal
from codemode.sandbox import CallRequest, Limits, Sandbox
from codemode.sandbox._frames import HEADER, encode

RESULTS = Path(__file__).parent / "results" / "isolation.json"
SETUP: dict[str, Any] = {"servers": {}, "sys_path": [p for p in sys.path if p and os.path.isabs(p)]}
LAYERS = ("namespaces", "private_root", "pid_namespace", "landlock", "seccomp")
REPORTED = ("namespaces", "private root", "pid namespace", "landlock", "seccomp")
ECHO = (
    "import os, struct\n"
    "r, w = int(os.sys.argv[1]), int(os.sys.argv[2])\n"
    "while True:\n"
    "    head = os.read(r, 4)\n"
    "    if not head:\n"
    "        break\n"
    "    (n,) = struct.unpack('>I', head)\n"
    "    body = os.read(r, n)\n"
    "    os.write(w, head + body)\n"
)


class LayeredSandbox(Sandbox):
    """A Sandbox that applies only the confinement layers named in `layers`."""

    def __init__(self, layers: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(SETUP, **kwargs)
        self.layers = layers

    def _confine_spec(self) -> dict[str, Any]:
        spec = super()._confine_spec()
        return {**spec, **{layer: layer in self.layers for layer in LAYERS}}


async def no_tools(request: CallRequest) -> dict[str, Any]:
    return {"ok": False, "error": {"code": "UNKNOWN_TOOL", "message": "no tools in the bench"}}


def configurations() -> dict[str, functools.partial[LayeredSandbox]]:
    no_limits = Limits(memory=None, open_files=None, file_size=None, cpu_seconds=None)
    return {
        "worker, no layer": functools.partial(LayeredSandbox, (), confine=False, limits=no_limits),
        "+ rlimits": functools.partial(LayeredSandbox, (), confine=False),
        "+ namespaces (user, network, IPC)": functools.partial(LayeredSandbox, ("namespaces",)),
        "+ private root (mount namespace)": functools.partial(LayeredSandbox, ("namespaces", "private_root")),
        "+ PID namespace (two forks)": functools.partial(LayeredSandbox,
                                                         ("namespaces", "private_root", "pid_namespace")),
        "+ Landlock": functools.partial(LayeredSandbox, ("namespaces", "private_root", "pid_namespace", "landlock")),
        "+ seccomp (every layer)": functools.partial(LayeredSandbox, LAYERS),
    }


def time_start(make: functools.partial[LayeredSandbox]) -> float:
    portal = get_portal()
    box = make()
    started = time.perf_counter()
    portal.call(box.start)
    elapsed = time.perf_counter() - started
    portal.call(box.aclose)
    return elapsed


def time_bare_process() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-I", "-S", "-c", "pass"], check=True)
    return time.perf_counter() - started


def warm_cells(cells: int) -> list[float]:
    portal = get_portal()
    box = Sandbox(SETUP)
    portal.call(box.start)
    run = functools.partial(box.run, "1", on_call=no_tools, on_stream=lambda *_: None, timeout=30)
    try:
        for _ in range(20):
            portal.call(run)
        times = []
        for _ in range(cells):
            started = time.perf_counter()
            portal.call(run)
            times.append(time.perf_counter() - started)
        return times
    finally:
        portal.call(box.aclose)


def echo_frames(cells: int) -> list[float]:
    """The floor of a round trip: one exec-sized frame to a plain child and back."""
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    child = subprocess.Popen([sys.executable, "-I", "-S", "-c", ECHO, str(to_child_r), str(from_child_w)],
                             pass_fds=(to_child_r, from_child_w))
    os.close(to_child_r)
    os.close(from_child_w)
    frame = encode({"op": "exec", "id": 1, "code": "1"})
    try:
        times = []
        for n in range(cells + 20):
            started = time.perf_counter()
            os.write(to_child_w, frame)
            (length,) = HEADER.unpack(os.read(from_child_r, 4))
            os.read(from_child_r, length)
            if n >= 20:
                times.append(time.perf_counter() - started)
        return times
    finally:
        os.close(to_child_w)
        child.wait()
        os.close(from_child_r)


def portal_hops(cells: int) -> list[float]:
    """A no-op coroutine run on the hub's loop from this thread: the hop every run makes."""
    portal = get_portal()

    async def noop() -> None:
        return None

    times = []
    for n in range(cells + 20):
        started = time.perf_counter()
        portal.call(noop)
        if n >= 20:
            times.append(time.perf_counter() - started)
    return times


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"median_ms": statistics.median(ordered) * 1000, "p90_ms": ordered[int(len(ordered) * 0.9)] * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--cells", type=int, default=300)
    args = parser.parse_args()

    configs = configurations()
    starts: dict[str, list[float]] = {name: [] for name in ["python -I -S -c pass", *configs]}
    time_start(configs["+ seccomp (every layer)"])  # warm the page cache and the portal
    for _ in range(args.rounds):
        starts["python -I -S -c pass"].append(time_bare_process())
        for name, make in configs.items():
            starts[name].append(time_start(make))
    isolation = _active_layers()

    rows = {name: summary(times) for name, times in starts.items()}
    floor = rows["python -I -S -c pass"]["median_ms"]
    echo, hop, cells = summary(echo_frames(args.cells)), summary(portal_hops(args.cells)), summary(warm_cells(args.cells))
    print(f"Worker start to ready, medians of {args.rounds} interleaved rounds ({', '.join(isolation)}):\n")
    print("| step | median | p90 | vs `python -I -S -c pass` | this layer |")
    print("| --- | ---: | ---: | ---: | ---: |")
    previous = None
    for name, row in rows.items():
        layer = "" if previous is None or name == "worker, no layer" else f"{row['median_ms'] - previous:+.1f} ms"
        print(f"| {name} | {row['median_ms']:.1f} ms | {row['p90_ms']:.1f} ms | "
              f"{row['median_ms'] / floor:.2f}x | {layer} |")
        previous = row["median_ms"] if name != "python -I -S -c pass" else None
    print(f"\nWarm cell round trip, medians of {args.cells}:\n")
    print("| step | median | p90 | ratio |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| a frame echoed by a plain child (the floor) | {echo['median_ms']:.3f} ms | {echo['p90_ms']:.3f} ms | 1.00x |")
    print(f"| a no-op coroutine on the hub's loop, from this thread | {hop['median_ms']:.3f} ms | {hop['p90_ms']:.3f} ms | "
          f"{hop['median_ms'] / echo['median_ms']:.2f}x |")
    print(f"| `Sandbox.run(\"1\")`, every layer | {cells['median_ms']:.3f} ms | {cells['p90_ms']:.3f} ms | "
          f"{cells['median_ms'] / echo['median_ms']:.2f}x |")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"layers": isolation, "start": rows, "echo": echo, "portal_hop": hop, "warm_cell": cells}, indent=2) + "\n")


def _active_layers() -> list[str]:
    portal = get_portal()
    box = Sandbox(SETUP)
    portal.call(box.start)
    try:
        return [row["layer"] + (f" ({row['detail'].split(':')[0]})" if row["layer"] == "landlock" else "")
                for row in box.isolation if row["active"] and row["layer"] in REPORTED]
    finally:
        portal.call(box.aclose)


if __name__ == "__main__":
    main()
