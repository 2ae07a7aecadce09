"""`codemode serve` under load: many concurrent HTTP sessions against `Session.run`, side by side.

One script, one machine state. A `codemode serve --transport http` process serves the demo
server; SESSIONS clients (the SDK's own `Client` in the 2026-07-28 era, one session handle
each) run CALLS `execute` calls each, all at once, every one with a tool call, and check that
every answer is their own (no error, no cross-talk). Then one session alone runs the same
calls in sequence, in each protocol era (2026-07-28, and 2025-11-25 with a session per
connection), and `Session.run` runs the same code in this process: the engine without MCP,
HTTP or sessions.
Memory: the serve process's resident size before the sessions and with all of them open,
and the resident size of one session's worker.

    python bench/serve.py [--sessions 50] [--calls 20]

Where a 2026-07-28 execute's time went over HTTP (2026-12-07, issue 28): about 45 ms of every
request on a kept-alive connection, /health included, was Nagle's algorithm meeting the
client's delayed ACK. `codemode serve` made its listening socket with proto 0, and asyncio sets
TCP_NODELAY only on sockets whose proto says TCP, so a response written as headers then body
waited for the ACK of the headers. The socket now names IPPROTO_TCP (tests/serve/test_serve_socket.py);
the same bench went from p50 123.8 ms to 14.4 ms in the 2026 era (Session.run 5.1 ms, both on a
loaded machine). The 2025-11-25 era streams each answer as server-sent events and met it less.

Where the rest goes (py-spy on the serve process and on this client, 2026-12-07): no hot spot of
ours. The SDK's own `tools/call` round trip over HTTP, with a handler that does nothing, is
1.3 ms here (about 1 ms of it the client: httpx writing headers and body, parsing, validating),
next to 1.6-1.9 ms for `Session.run` itself, so 2x `Session.run` is out of reach for any tool
call over HTTP through the SDK. What `serve` adds above that floor and the run (a thread hop
each way, about 0.1 ms; the session's lock and limits; the result's text and token line) was
1.2 ms; carrying live events that a request cannot carry (a progress notification for each tool
call's start and end when the request sent no progress token) was about 0.2 ms of it, and is
gone. The table's "floor" row and the ratio printed under it keep that split in view.
With timers in the serve process for one run of 900 executes (p50s; the client saw 4.85 ms):
the tools/call handler 2.80 ms, of which `Session.run` 2.24 ms (1.7 ms in a process of its
own: here it shares the GIL with the HTTP loop), the hop to its thread and back 0.25 ms, and the
rest (limits, the result's text and token line) 0.31 ms; the other 2.05 ms are the SDK's HTTP
server and client. So the SDK's share alone is more than `Session.run`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPDeprecationWarning

from codemode.config import demo_config
from codemode.engine import Session

warnings.filterwarnings("ignore", category=MCPDeprecationWarning)

# The code of every execute after the first: the session's own tag (set by the first), a tool
# call whose answer depends on the session, and the round's number.
FIRST = "tag = {tag!r}\ncalls = 0"
CODE = "calls += 1\n(tag, demo.get_customer(customer_id={customer})['id'], calls)"
START_TIMEOUT = 120.0
MODERN = "2026-07-28"


def start_server(config: Path) -> tuple[subprocess.Popen[bytes], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "codemode", "serve", "--config", str(config), "--transport", "http", "--port", "0"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    line = b""
    deadline = time.monotonic() + START_TIMEOUT
    while b"/mcp" not in line and time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
    found = re.search(rb"(http://\S+/mcp)", line)
    if not found:
        process.kill()
        raise SystemExit(f"codemode serve did not start: {line.decode(errors='replace')}")
    return process, found.group(1).decode()


def wait_until_warm(url: str, pool: int) -> None:
    """Until /health says every server is connected and the warm pool is full (the servers
    connect behind the server's first answers)."""
    import urllib.request

    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        with urllib.request.urlopen(url.replace("/mcp", "/health"), timeout=30) as response:
            health = json.loads(response.read())
        if health["status"] == "ok" and health["pool"]["warm"] >= pool:
            return
        time.sleep(0.1)
    raise SystemExit(f"codemode serve did not get ready: {health}")


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def workers(parent: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    ppid = int(stat.read().rsplit(b")", 1)[1].split()[1])
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    if ppid == parent and b"codemode.sandbox.worker" in cmdline.read():
                        found.append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    return found


def text_of(result: Any) -> str:
    """The text of a tool result's first content block (an error's message)."""
    block = result.content[0] if result.content else None
    return getattr(block, "text", repr(block))


async def one_session(url: str, index: int, calls: int, opened: anyio.Event, go: anyio.Event,
                      out: dict[str, Any], mode: str) -> None:
    """A client in protocol era `mode`: its first execute sets its tag, then `calls` timed
    executes on the session's handle, each checked."""
    tag = f"session-{index}"
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(60.0, read=300.0)) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            await client.list_tools()
            first = await client.call_tool("execute", {"code": FIRST.format(tag=tag)})
            handle = first.structured_content.get("session")
            if first.is_error:
                out["errors"].append(text_of(first))
            out["opened"] += 1
            if out["opened"] == out["sessions"]:
                opened.set()
            await go.wait()
            for round_ in range(1, calls + 1):
                customer = 1 + (index + round_) % 8
                started = time.perf_counter()
                result = await client.call_tool("execute", {"code": CODE.format(customer=customer), "session": handle})
                out["times"].append(time.perf_counter() - started)
                if result.is_error:
                    out["errors"].append(text_of(result)[:200])
                elif result.structured_content["result"] != [tag, customer, round_]:
                    out["crosstalk"].append((tag, result.structured_content["result"]))


async def load(url: str, sessions: int, calls: int, server_pid: int, mode: str = MODERN) -> dict[str, Any]:
    out: dict[str, Any] = {"times": [], "errors": [], "crosstalk": [], "opened": 0, "sessions": sessions}
    opened, go = anyio.Event(), anyio.Event()
    async with anyio.create_task_group() as tg:
        for index in range(sessions):
            tg.start_soon(one_session, url, index, calls, opened, go, out, mode)
        with anyio.fail_after(600):
            await opened.wait()
        out["rss_open"] = rss_kb(server_pid)
        out["workers"] = workers(server_pid)
        out["worker_rss"] = [rss_kb(pid) for pid in out["workers"]]
        started = time.perf_counter()
        go.set()
    out["wall"] = time.perf_counter() - started
    return out


async def floor(url: str, calls: int) -> list[float]:
    """The SDK's own `tools/call` round trip on this server: a `search` refused at once (an empty
    query: INVALID_ARGUMENTS, no work of ours) from the same client, 2026-07-28 era: what any
    tool call over HTTP costs before a run."""
    times = []
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(60.0)) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=MODERN) as client:
            await client.list_tools()
            for index in range(calls + 5):
                started = time.perf_counter()
                result = await client.call_tool("search", {"query": ""})
                if index >= 5:
                    times.append(time.perf_counter() - started)
                assert result.is_error, result
    return times


def session_runs(config: Path, calls: int) -> list[float]:
    from codemode.config import load_config

    session = Session(load_config(str(config)))
    session.start()
    try:
        session.run(FIRST.format(tag="session-0"))
        for _ in range(5):
            session.run(CODE.format(customer=1))
        times = []
        session.run("calls = 0")
        for round_ in range(1, calls + 1):
            started = time.perf_counter()
            report = session.run(CODE.format(customer=1 + round_ % 8))
            times.append(time.perf_counter() - started)
            assert report.ok, report
        return times
    finally:
        session.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def row(name: str, times: list[float]) -> str:
    return (f"| {name} | {len(times)} | {statistics.median(times) * 1000:.1f} ms | "
            f"{percentile(times, 0.99) * 1000:.1f} ms |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    demo = demo_config().servers["demo"]
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "mcp.json"
        config.write_text(json.dumps({
            "mcpServers": {"demo": {"command": demo.command, "args": demo.args, "env": demo.env}},  # type: ignore[union-attr]
            "codemode": {"cellTimeout": 120, "poolSize": 2}}))
        process, url = start_server(config)
        try:
            wait_until_warm(url, 2)  # servers connected and the pool full: the baseline is the idle server
            rss_idle = rss_kb(process.pid)
            many = anyio.run(load, url, args.sessions, args.calls, process.pid)
            alone = {mode: anyio.run(load, url, 1, args.sessions * args.calls // 4, process.pid, mode)
                     for mode in (MODERN, "legacy")}
            bare = anyio.run(floor, url, args.sessions * args.calls // 4)
        finally:
            process.terminate()
            process.wait(timeout=30)
        runs = session_runs(config, args.sessions * args.calls // 4)
    total = args.sessions * args.calls
    print(f"{args.sessions} sessions × {args.calls} execute calls, each with a tool call: "
          f"{len(many['errors'])} errors, {len(many['crosstalk'])} answers from another session, "
          f"{total} calls in {many['wall']:.1f} s ({total / many['wall']:.0f}/s)")
    for problem in (many["errors"] + many["crosstalk"])[:5]:
        print("  ", problem)
    print()
    print("| what | calls | p50 | p99 |")
    print("| --- | --- | --- | --- |")
    print(row("`Session.run` of the same code, in process", runs))
    print(row("a `search` refused at once over HTTP, 2026-07-28: the SDK's `tools/call` floor", bare))
    for mode, era in ((MODERN, "2026-07-28"), ("legacy", "2025-11-25")):
        print(row(f"`execute` over HTTP, one session, {era}", alone[mode]["times"]))
    print(row(f"`execute` over HTTP, {args.sessions} concurrent sessions, 2026-07-28", many["times"]))
    modern = statistics.median(alone[MODERN]["times"])
    print()
    print(f"one session's 2026-07-28 execute: {modern / statistics.median(runs):.2f}x `Session.run`; less the SDK's "
          f"tools/call floor, {(modern - statistics.median(bare)) / statistics.median(runs):.2f}x")
    per_session = (many["rss_open"] - rss_idle) / args.sessions
    worker = statistics.median(many["worker_rss"]) if many["worker_rss"] else 0
    print()
    print(f"host (serve process) resident: {rss_idle / 1024:.0f} MB idle, {many['rss_open'] / 1024:.0f} MB with "
          f"{args.sessions} sessions open: {per_session:.0f} KB per session; each session's worker: "
          f"{worker / 1024:.1f} MB resident (median of {len(many['worker_rss'])})")
    if many["errors"] or many["crosstalk"] or any(run["errors"] or run["crosstalk"] for run in alone.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
