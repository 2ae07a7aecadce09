"""A first result in about a second: fresh processes, side by side, interleaved, medians.

Each round starts, in turn, fresh interpreters that do:

- `python -c "import mcp"` (the baseline: what any MCP client pays to start);
- `codemode exec -c 'print(1)'` on the built-in demo config, its tool list cached (bar ≤ 1.2×);
- the same with `CODEMODE_TOOL_CACHE=0` (what a first run ever pays), for reference;
- a first call: `Session().run("demo.get_customer(customer_id=1)")` from a fresh process,
  against a direct `mcp.Client` connect + list + call of the same (in-process) demo server
  (bar: ≤ the direct one + 0.3 s);
- `%load_ext codemode` in an IPython shell that is already up (bar ≤ 0.3 s).

    python bench/first_result.py [--rounds 7]

Profile findings (cProfile / pyinstrument of `codemode exec -c 'print(1)'`, 2026-11-30, loaded
2-core machine), before → after:
- before: ~35 % importing the SDK and pydantic in the host (`codemode.hub` imported `mcp` at
  module level), ~45 % connecting the demo server (a second interpreter importing the SDK),
  ~5 % closing it, ~3 % loading the o200k tokenizer on the main thread, then the worker start.
- after: the demo runs in process (`demo_config()` marks it; `python -m codemode.demo` in a
  config file is still a real stdio server); servers whose tool list is cached on disk
  (`hub/_toolcache.py`) are not connected until their first call, so `print(1)` imports no
  SDK at all; the worker starts while servers connect; the tokenizer loads on a thread.
  What is left: pydantic for the config (~40 %), asyncio + the portal thread, the worker's
  start (namespaces, seccomp), the run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")
PY = sys.executable

DIRECT = """
import anyio, mcp
from codemode.demo import build_server
async def main():
    async with mcp.Client(build_server(), mode="legacy") as client:
        await client.list_tools()
        await client.call_tool("get_customer", {"customer_id": 1})
anyio.run(main)
"""
SESSION = """
from codemode import Session
with Session() as session:
    assert session.run("demo.get_customer(customer_id=1)['id']").value == 1
"""
LOAD_EXT = """
import time
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
started = time.perf_counter()
shell.run_line_magic("load_ext", "codemode")
print(time.perf_counter() - started)
"""


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    cache = tempfile.mkdtemp(prefix="codemode-bench-cache-")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")])),
           "CODEMODE_CACHE_DIR": cache, "CODEMODE_TOOL_CACHE": "1"}
    cold = {**env, "CODEMODE_TOOL_CACHE": "0"}
    exec_argv = [PY, "-m", "codemode", "exec", "-c", "print(1)"]
    timed(exec_argv, env)  # fills the tool cache, as any earlier run on this machine would
    rows: dict[str, list[float]] = {name: [] for name in ("mcp", "exec", "exec_cold", "direct", "session", "load_ext")}
    for _ in range(args.rounds):
        rows["mcp"].append(timed([PY, "-c", "import mcp"], env))
        rows["exec"].append(timed(exec_argv, env))
        rows["exec_cold"].append(timed(exec_argv, cold))
        rows["direct"].append(timed([PY, "-c", DIRECT], env))
        rows["session"].append(timed([PY, "-c", SESSION], cold))
        out = subprocess.run([PY, "-c", LOAD_EXT], env=env, check=True, capture_output=True, text=True).stdout
        rows["load_ext"].append(float(out.strip().splitlines()[-1]))
    m = {name: statistics.median(values) for name, values in rows.items()}
    print(f"first result, fresh processes, {args.rounds} interleaved rounds, medians (python {sys.version.split()[0]})")
    print("| measure | median | ratio or difference | bar |\n| --- | --- | --- | --- |")
    print(f"| `python -c 'import mcp'` | {m['mcp']:.2f} s | 1.00x | |")
    print(f"| `codemode exec -c 'print(1)'`, demo, tool list cached | {m['exec']:.2f} s | "
          f"{m['exec'] / m['mcp']:.2f}x | ≤ 1.20x |")
    print(f"| the same, no tool cache (a first run ever) | {m['exec_cold']:.2f} s | {m['exec_cold'] / m['mcp']:.2f}x | |")
    print(f"| direct `mcp.Client` connect + list + call, demo | {m['direct']:.2f} s | | |")
    print(f"| `Session().run(one call)`, fresh process, no tool cache | {m['session']:.2f} s | "
          f"{m['session'] - m['direct']:+.2f} s | ≤ +0.30 s |")
    print(f"| `%load_ext codemode` in a running shell | {m['load_ext']:.3f} s | | ≤ 0.300 s |")


if __name__ == "__main__":
    main()
