"""Tool calls from the sandbox against direct calls through the MCP SDK, side by side.

One script, one machine state, one event loop: for each server (the demo server over stdio,
and `mcp-server-time` when installed) a direct `mcp.Client` on the hub's own loop and a
session on the same server binary take turns, in blocks of calls, and each side's per-call
times are pooled into a median. Then 20 one-second calls gathered concurrently against one
such call; then the warm round trip of a trivial `Session.run`, and a fresh worker's start.

    python bench/tool_calls.py [--calls 300] [--rounds 6]

Profile findings (pyinstrument of the sandbox loop on the host, 2026-11-30), per call:
- the hops: worker frame → host loop (`_ChannelProtocol.data_received`, no extra task for
  reading) → `Session._serve_call` → `Hub.call` → the SDK's `call_tool` (request, response,
  output-schema validation with jsonschema: in both columns) → the reply frame;
- work of ours on every call: argument preview and wire JSON (two `json.dumps`), argument
  validation against the input schema (kept: the host trusts no worker), the result's
  `model_dump_json` for its size and the token account, `result_payload`;
- the largest avoidable cost was a thread hand-off: every call queued two live events for the
  caller's thread even when nobody listened, waking it twice a call to fight the loop's
  thread for the GIL. Events are now queued only when the caller passes `on_event`.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPDeprecationWarning

from codemode.config import Config, StdioServer, demo_config
from codemode.hub import get_portal
from codemode.session import Session

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
import asyncio, statistics, time
await demo.build_report.acall(steps=2)  # the first progress-reporting call warms its path
ones = []
for _ in range(3):
    t = time.perf_counter()
    await demo.build_report.acall(steps=100)
    ones.append(time.perf_counter() - t)
t = time.perf_counter()
await asyncio.gather(*[demo.build_report.acall(steps=100) for _ in range(20)])
[statistics.median(ones), time.perf_counter() - t]
"""


def servers() -> list[tuple[str, StdioServer, str, dict[str, Any], str]]:
    """(label, server, MCP tool, arguments, the call as cell code) for each server at hand."""
    demo = demo_config().servers["demo"]
    assert isinstance(demo, StdioServer)
    stdio_demo = StdioServer(command=demo.command, args=demo.args, env=demo.env)  # a real stdio process
    found = [("demo server over stdio", stdio_demo, "get_customer", {"customer_id": 1},
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


def compare(server: StdioServer, tool: str, arguments: dict[str, Any], call: str, calls: int, rounds: int) -> tuple[float, float]:
    portal = get_portal()
    params = StdioServerParameters(command=server.command, args=server.args, env=server.env or None)
    block = max(1, calls // rounds)
    direct: list[float] = []
    sandboxed: list[float] = []
    with open("/dev/null", "w") as devnull, \
            portal.wrap_async_context_manager(Client(stdio_client(params, errlog=devnull), mode="legacy")) as client, \
            Session(Config(servers={"demo": server}, source=None)) as session:
        portal.call(client.list_tools)
        portal.call(direct_block, client, tool, arguments, 20)  # warm both paths
        session.run(SANDBOX_BLOCK.format(calls=20, call=call), timeout=600)
        for _ in range(rounds):
            direct += portal.call(direct_block, client, tool, arguments, block)
            report = session.run(SANDBOX_BLOCK.format(calls=block, call=call), timeout=600)
            assert report.ok, report
            sandboxed += report.value
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
    with Session(Config(servers={"demo": stdio_demo}, source=None)) as session:
        one, twenty = session.run(GATHER, timeout=600).value
        for _ in range(50):
            session.run("x = 1")
        runs = []
        for _ in range(500):
            started = time.perf_counter()
            session.run("x = 1")
            runs.append(time.perf_counter() - started)
        starts = []
        sandbox = session._sandbox
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
    print(f"| one 1-second call (`build_report(steps=100)`, 100 progress notifications) | {one:.3f} s | 1.00x | |")
    print(f"| 20 such calls, asyncio.gather | {twenty:.3f} s | {twenty / one:.2f}x | ≤ 1.10x |")
    print(f"| `Session.run('x = 1')`, warm | {statistics.median(runs) * 1000:.3f} ms | | ≤ 1 ms |")
    print(f"| fresh worker, start to ready | {statistics.median(starts) * 1000:.1f} ms | | ≤ 150 ms |")


if __name__ == "__main__":
    main()
