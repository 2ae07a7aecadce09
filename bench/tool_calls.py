"""Tool calls from the sandbox against direct calls through the MCP SDK, side by side.

One script, one machine state: the same demo server (over stdio) is called N times
directly with `mcp.Client` and N times from a sandboxed cell through the session; then 20
one-second calls gathered concurrently against one such call; then the warm round trip of
a trivial `Session.run`, and a fresh worker's start.

    python bench/tool_calls.py [--calls 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPDeprecationWarning

from codemode.config import demo_config
from codemode.hub import get_portal
from codemode.session import Session

warnings.filterwarnings("ignore", category=MCPDeprecationWarning)


async def direct_calls(calls: int) -> list[float]:
    server = demo_config().servers["demo"]
    params = StdioServerParameters(command=server.command, args=server.args, env=server.env or None)
    with open("/dev/null", "w") as devnull:
        async with Client(stdio_client(params, errlog=devnull), mode="legacy") as client:
            await client.list_tools()
            for _ in range(20):
                await client.call_tool("get_customer", {"customer_id": 1})
            times = []
            for _ in range(calls):
                started = time.perf_counter()
                await client.call_tool("get_customer", {"customer_id": 1})
                times.append(time.perf_counter() - started)
            return times


SANDBOX_LOOP = """
import time
for _ in range(20):
    demo.get_customer(customer_id=1)
times = []
for _ in range({calls}):
    t = time.perf_counter()
    demo.get_customer(customer_id=1)
    times.append(time.perf_counter() - t)
times
"""

GATHER = """
import asyncio, time
t = time.perf_counter()
await demo.build_report.acall(steps=100)
one = time.perf_counter() - t
t = time.perf_counter()
await asyncio.gather(*[demo.build_report.acall(steps=100) for _ in range(20)])
[one, time.perf_counter() - t]
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    direct = statistics.median(anyio.run(direct_calls, args.calls))
    with Session(demo_config()) as session:
        report = session.run(SANDBOX_LOOP.format(calls=args.calls), timeout=600)
        assert report.ok, report
        sandboxed = statistics.median(report.value)
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
    print(f"demo server over stdio, python {sys.version.split()[0]}, medians")
    print("| measure | value | ratio |\n| --- | --- | --- |")
    print(f"| direct SDK call (`mcp.Client`) | {direct * 1000:.2f} ms | 1.00x |")
    print(f"| call from the sandbox | {sandboxed * 1000:.2f} ms | {sandboxed / direct:.2f}x |")
    print(f"| one 1-second call | {one:.3f} s | 1.00x |")
    print(f"| 20 such calls, asyncio.gather | {twenty:.3f} s | {twenty / one:.2f}x |")
    print(f"| `Session.run('x = 1')`, warm | {statistics.median(runs) * 1000:.3f} ms | |")
    print(f"| fresh worker, start to ready | {statistics.median(starts) * 1000:.1f} ms | |")


if __name__ == "__main__":
    main()
