"""Tool calls from the sandbox against direct calls through the MCP SDK, side by side.

One script, one machine state, one event loop: for each server (the demo server over stdio,
and `mcp-server-time` when installed) a direct `mcp.Client` on the hub's own loop and a
session on the same server binary take turns, in blocks of calls, and each side's per-call
times are pooled into a median. Then 20 one-second calls gathered concurrently from a cell
against 20 at once from a direct client, in turns; a 10 MB file read through the
filesystem server, direct and from a cell; then the warm round trip of a trivial
`Session.run`, and a fresh worker's start.

    python bench/tool_calls.py [--calls 300] [--rounds 6]

Profile findings (2026-11-30; cProfile and RUSAGE_THREAD of the hub's loop thread, py-spy of
the whole process tree, and a canned hub result / a bare reply in place of the real call to
take the SDK out):
- the hops: worker frame → host loop (`ChannelProtocol.data_received`, no task for reading)
  → a task per call → `CallDesk._serve_call` → `Hub.call` → the SDK's `call_tool` (request,
  response, output-schema validation with jsonschema: in both columns) → the reply frame.
  `Hub.call` on the loop costs what a direct `call_tool` does (0.98×): the overhead is the
  worker's round trip and our per-call work, not the hub;
- the floor: with a bare reply (no policy, no hub) a call from a cell costs 0.2-0.34 ms,
  of which ~0.1 ms is the loop thread's CPU (frame parse and check, the task, the reply's
  JSON) and the rest two process wake-ups. A plain two-process pipe ping-pong on this VM
  takes 15 µs when both sides spin but 85-140 µs when the writer works between rounds (the
  vCPU it wakes has gone idle): each extra hop costs a wake-up, not a copy;
- our per-call work on top of it was ~0.1 ms of loop CPU: the tool's parameters rebuilt to
  map Python names (now once per tool), the arguments' JSON made twice (now once), every
  frame's strings rebuilt to replace lone surrogates (now only a frame with a `\\u` escape;
  a depth walk otherwise, and none for a short frame), a linear tool lookup per result (now
  an index), the report log / trace line / live event / audit / token account done before
  the worker had its answer (now on the loop turn after it);
- a cell's watch read every /proc entry each 100 ms tick to count the worker's processes
  and CPU (4.4 ms a scan here, ~4% of the loop); with a PID namespace it now walks the
  worker's process tree (0.5 ms);
- earlier: every call queued two live events for the caller's thread even when nobody
  listened, waking it to fight the loop's thread for the GIL; events are now queued only
  when the caller passes `on_event`.
Third pass (2026-11-30, evening): loop-thread CPU per call (RUSAGE_THREAD, 1,000 calls a
side) was ~0.7-0.8 ms for a direct `call_tool` and ~1.1-1.3 ms for a call from a cell; a
timeline of marks on the host put 87-115 us between the worker's frame and `Hub.call`, and
157-182 us from the hub's answer to the reply written (the worker runs in that write: the
kernel's sync wake-up hands it the CPU). The lever was the SDK's stdio transport, in both
columns: it bridges each pipe through a task and a zero-buffer memory stream, a loop turn
per request and per response. `hub/_stdio.py` reads and writes the pipes from the loop's
own callbacks under the SDK's session; with it, `Hub.call` costs 0.90-0.97x a direct SDK
call (1,625 against 1,856 us in the timeline), which pays for part of the worker's hop.
The worker's side: ~145 us user + 50 us system per call (from /proc), of which the stream
flush before each call took two locks even with nothing to send (now a lock-free check).
Pinning the worker to the host loop's CPU was tried and gave nothing steady (the VM packs
vCPUs); it would also halve a busy worker's throughput, so it is not done.
What is left is structural: one more process round trip per call than a direct client has.
Fourth pass (2026-11-30, night; in-cell `thread_time` around the channel's steps, RUSAGE_THREAD
of the loop with parts of the host's call path stubbed out in turn, py-spy of the loop):
- every read of a pipe asked for far more than a frame: the worker `os.read(fd, 1 MiB)`, and
  asyncio's pipe transports 256 KiB (the host's end of the worker channel, the servers'
  stdout). `os.read` allocates the whole size and then trims it; past glibc's 128 KiB mmap
  threshold that is a mmap, page faults and a munmap every read (18-23 us against 2 us for
  64 KiB in a plain loop; 41-45 us in the worker). Reads are 64 KiB now (`codemode/_pipes.py`):
  the worker's read of a result 41-45 -> 6-7 us, its CPU per call ~220 -> ~165 us;
- the loop's CPU per call: 760-800 us for a direct `call_tool`, 670-820 us for `Hub.call`,
  960-1,150 us for a call from a cell. Stubbing out the host's argument check, the preview or
  the call's record each moved it by less than the run-to-run spread (+-50 us); the rest is
  the frame's read and parse, the task per call and the reply's write;
- the hub's own `fail_after` net costs 14-20 us a call (hot); it stays, as the SDK's
  clock starts only after the request is written, and a server that stops reading its stdin
  would block that write;
- 20 gathered `build_report` calls: the demo server spent 1.0-1.4 s of CPU on the 2,000
  progress notifications (an SDK server writes each message through a worker thread) in
  1.2-1.4 s, for a direct client and for a cell alike, while the host's loop spent
  0.56-0.59 s (cell) and 0.73-0.90 s (direct). The bar compares a cell's 20 with a direct
  client's 20, in turns; against one call it measured the server;
- a long line from a stdio server was joined again with every read (`(partial + data)
  .split()`), quadratic in the line's length, as the SDK's own stdio transport still does:
  with the 64 KiB reads a 10 MB result spent 0.38 s there. The chunks are now kept and
  joined once (0.03 s). A 10 MB file read through the filesystem server takes 0.34 s from
  a cell (2.3-2.5 s before this pass) against 2.1-2.9 s for a direct SDK call.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPDeprecationWarning

from codemode.config import Config, StdioServer, demo_config
from codemode.engine import Session
from codemode.hub import get_portal

warnings.filterwarnings("ignore", category=MCPDeprecationWarning)

SANDBOX_BLOCK = """
import time
times = []
for _ in range({calls}):
    t = time.perf_counter()
    {call}
    times.append(time.perf_counter() - t)
times
"""

GATHER = """
import asyncio, time
t = time.perf_counter()
await asyncio.gather(*[demo.build_report.acall(steps=100) for _ in range({calls})])
time.perf_counter() - t
"""


def servers() -> list[tuple[str, StdioServer, str, dict[str, Any], str]]:
    """(label, server, MCP tool, arguments, the call as cell code) for each server at hand."""
    demo = demo_config().servers["demo"]
    assert isinstance(demo, StdioServer)
    stdio_demo = StdioServer(command=demo.command, args=demo.args, env=demo.env)  # a real stdio process
    found: list[tuple[str, StdioServer, str, dict[str, Any], str]] = [("demo server over stdio", stdio_demo, "get_customer", {"customer_id": 1},
              "demo.get_customer(customer_id=1)")]
    time_server = shutil.which("mcp-server-time", path=str(Path(sys.executable).parent))
    if time_server:
        found.append(("mcp-server-time over stdio", StdioServer(command=time_server, args=["--local-timezone", "UTC"]),
                      "get_current_time", {"timezone": "UTC"}, "demo.get_current_time(timezone='UTC')"))
    return found


async def direct_block(client: Client, tool: str, arguments: dict[str, Any], calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        await client.call_tool(tool, arguments)
        times.append(time.perf_counter() - started)
    return times


@contextmanager
def side_by_side(server: StdioServer, name: str = "demo") -> Iterator[tuple[Client, Session]]:
    """A direct `mcp.Client` on the hub's loop and a session named `name`, each on its own
    process of the same server binary."""
    params = StdioServerParameters(command=server.command, args=server.args, env=server.env or None)
    with open(os.devnull, "w") as devnull, \
            get_portal().wrap_async_context_manager(Client(stdio_client(params, errlog=devnull), mode="legacy")) as client, \
            Session(Config(servers={name: server}, source=None)) as session:
        yield client, session


def compare(server: StdioServer, tool: str, arguments: dict[str, Any], call: str, calls: int, rounds: int) -> tuple[float, float]:
    portal = get_portal()
    block = max(1, calls // rounds)
    direct: list[float] = []
    sandboxed: list[float] = []
    with side_by_side(server) as (client, session):
        portal.call(client.list_tools)
        portal.call(direct_block, client, tool, arguments, 20)  # warm both paths
        session.run(SANDBOX_BLOCK.format(calls=20, call=call), timeout=600)
        for _ in range(rounds):
            direct += portal.call(direct_block, client, tool, arguments, block)
            report = session.run(SANDBOX_BLOCK.format(calls=block, call=call), timeout=600)
            assert report.ok, report
            sandboxed += report.value
    return statistics.median(direct), statistics.median(sandboxed)


async def direct_gather(client: Client, calls: int) -> float:
    """`calls` progress-reporting calls at once from a direct client, as the cell makes them."""
    async def no_progress(progress: float, total: float | None, message: str | None) -> None:
        pass

    started = time.perf_counter()
    async with anyio.create_task_group() as group:
        for _ in range(calls):
            group.start_soon(functools.partial(client.call_tool, "build_report", {"steps": 100},
                                               progress_callback=no_progress))
    return time.perf_counter() - started


def gathered(server: StdioServer, rounds: int) -> dict[str, float]:
    """One and 20 concurrent `build_report(steps=100)` calls, direct and from a cell, medians.

    Each call sends 100 progress notifications over about a second, so 20 at once are 2,000
    notifications in a second: the demo server's own CPU (an SDK server writes each message
    to stdout through a worker thread) bounds the gathered time for both columns, which is
    why the bar compares the cell's gather with a direct client's, measured beside it.
    """
    portal = get_portal()
    times: dict[str, list[float]] = {"direct_one": [], "direct_twenty": [], "cell_one": [], "cell_twenty": []}
    with side_by_side(server) as (client, session):
        portal.call(direct_gather, client, 1)  # warm both paths
        session.run(GATHER.format(calls=1), timeout=600)
        for _ in range(rounds):
            times["direct_one"].append(portal.call(direct_gather, client, 1))
            times["cell_one"].append(session.run(GATHER.format(calls=1), timeout=600).value)
            times["direct_twenty"].append(portal.call(direct_gather, client, 20))
            times["cell_twenty"].append(session.run(GATHER.format(calls=20), timeout=600).value)
    return {key: statistics.median(values) for key, values in times.items()}


def big_result(rounds: int) -> tuple[float, float] | None:
    """A 10 MB text file read through the filesystem server: a direct client against a cell,
    in turns, medians; None (named) when the server is not installed."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _peers

    commands = _peers.peer_commands()
    if "filesystem" not in commands:
        print("big result: skipped; the filesystem server is not installed (make peers)", file=sys.stderr)
        return None
    folder = Path(tempfile.mkdtemp(prefix="codemode-bench-big-"))
    try:
        path = folder / "big.txt"
        text = ("0123456789abcdef" * 64 + "\n") * 10_000  # 10.25 MB
        path.write_text(text)
        server = StdioServer(command=str(commands["filesystem"]), args=[str(folder)])
        portal = get_portal()
        arguments = {"path": str(path)}
        code = f"len(fs.read_text_file(path={str(path)!r})['content'])"
        direct: list[float] = []
        sandboxed: list[float] = []
        with side_by_side(server, "fs") as (client, session):
            portal.call(direct_block, client, "read_text_file", arguments, 1)  # warm both paths
            session.run(code, timeout=600)
            for _ in range(rounds):
                direct += portal.call(direct_block, client, "read_text_file", arguments, 1)
                started = time.perf_counter()
                report = session.run(code, timeout=600)
                sandboxed.append(time.perf_counter() - started)
                assert report.ok and report.value == len(text), report
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return statistics.median(direct), statistics.median(sandboxed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    rows = []
    for label, server, tool, arguments, call in servers():
        rows.append((label, *compare(server, tool, arguments, call, args.calls, args.rounds)))
    stdio_demo = servers()[0][1]  # the demo as a stdio process, as in the table's first rows
    g = gathered(stdio_demo, 3)
    big = big_result(3)
    with Session(Config(servers={"demo": stdio_demo}, source=None)) as session:
        for _ in range(50):
            session.run("x = 1")
        runs = []
        for _ in range(500):
            started = time.perf_counter()
            session.run("x = 1")
            runs.append(time.perf_counter() - started)
        starts = []
        sandbox = session._sandbox
        assert sandbox is not None  # a started session has its sandbox
        for _ in range(10):
            started = time.perf_counter()
            get_portal().call(sandbox.start)
            starts.append(time.perf_counter() - started)
    print(f"{args.calls} calls a side in {args.rounds} interleaved blocks, one event loop, "
          f"python {sys.version.split()[0]}, medians")
    print("| measure | value | ratio | bar |\n| --- | --- | --- | --- |")
    for label, direct, sandboxed in rows:
        print(f"| {label}: direct SDK call (`mcp.Client`) | {direct * 1000:.2f} ms | 1.00x | |")
        print(f"| {label}: call from the sandbox | {sandboxed * 1000:.2f} ms | {sandboxed / direct:.2f}x | ≤ 1.15x |")
    print(f"| one 1-second call (`build_report(steps=100)`, 100 progress notifications), direct | "
          f"{g['direct_one']:.3f} s | | |")
    print(f"| the same from the sandbox | {g['cell_one']:.3f} s | {g['cell_one'] / g['direct_one']:.2f}x | |")
    print(f"| 20 such calls at once, direct (an anyio task group) | {g['direct_twenty']:.3f} s | 1.00x | |")
    print(f"| 20 such calls from the sandbox, `asyncio.gather` | {g['cell_twenty']:.3f} s | "
          f"{g['cell_twenty'] / g['direct_twenty']:.2f}x | ≤ 1.10x |")
    if big is not None:
        print(f"| a 10 MB text file, `filesystem.read_text_file`: direct SDK call | {big[0]:.3f} s | 1.00x | |")
        print(f"| the same from the sandbox (the whole run) | {big[1]:.3f} s | {big[1] / big[0]:.2f}x | |")
    print(f"| `Session.run('x = 1')`, warm | {statistics.median(runs) * 1000:.3f} ms | | ≤ 1 ms |")
    print(f"| fresh worker, start to ready | {statistics.median(starts) * 1000:.1f} ms | | ≤ 150 ms |")


if __name__ == "__main__":
    main()
