"""A first result in about a second: fresh processes, side by side, interleaved, medians.

Each round starts, in turn, fresh interpreters that do:

- `python -c "import mcp"` (the baseline: what any MCP client pays to start);
- `codemode exec -c 'print(1)'` on the built-in demo config, its tool list cached (bar ≤ 1.2×);
- the same with `CODEMODE_TOOL_CACHE=0` (what a first run ever pays), for reference;
- a first call: `Session().run("demo.get_customer(customer_id=1)")` from a fresh process,
  against a direct `mcp.Client` connect + list + call of the same (in-process) demo server
  (bar: ≤ the direct one + 0.3 s);
- `%load_ext codemode` in an IPython shell that is already up (bar ≤ 0.3 s);
- the first `%%codemode` cell calling a demo tool, right after `%load_ext`, timed inside a
  running shell, against `import mcp` + a direct connect + list + call timed inside a
  running interpreter (bar: ≤ the direct one + 0.3 s), with no tool cache (a first run
  ever: the demo connects inside the cell) and with the tool list cached (any later one);
- with the five real third-party servers of `bench/_peers.py` (skipped, named, when one is
  not installed): each server's own direct connect + list in a fresh process, and
  `codemode exec` on all five: `print(1)` with their tool lists cached, a call to one of
  them, and `print(1)` with no cache, when all five connect (bar: ≤ the slowest direct
  connect + 0.3 s).

Each codemode module is byte-compiled first, as an installed package is.

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

Second pass, the first tool call (py-spy --threads --subprocesses, `python -X importtime`, and
marks on each start step; 2026-11-30 afternoon, 2-core machine at load 4-7, so the CPU
figures are the steadier ones):
- Half or more of a first call, in codemode and in a direct `mcp.Client` alike, was
  `import jsonschema`, which the SDK does to validate a structured result against its
  `outputSchema`: jsonschema imports its format checkers, and `rfc3987_syntax` builds about
  30 Earley parsers with Lark at import (`lark.load_grammar` in the profile; 1.0-1.4 s on a
  quiet machine, 3.7 s under load; 1,853 of 3,907 samples of a fresh `Session` call). The
  SDK's validator checks no formats. `hub/_lazyiri.py` stands in for that module until an
  IRI is actually checked; results are validated as before (tests/hub/test_result_validation.py).
  Direct connect + list + call of the demo, fresh process: 3.3 s CPU, 1.6 s CPU deferred.
- The rest of a first call is the SDK itself: `import mcp` (the generated `mcp_types` models
  of two protocol versions, ~0.7 s of its ~1 s) and building the demo's models, on a thread.
  `import codemode.engine._session` after `import mcp` adds 0.06-0.08 s CPU (pydantic, asyncio and
  the standard library are shared); the worker boots in ~0.1 s on the other core.
- The session warmed its tokenizer on a thread only by counting texts it did not have yet
  (servers are learned later), so the o200k load (0.1-0.15 s) fell into the first run's
  account: the run took 0.21 s, now 0.03-0.05 s; the load happens during the start.
- A cached server was connected only at its first call, after the worker was up; the
  servers the first code names (`time.get_current_time(...)` names `time`) now connect
  while the worker starts (`Session.start(code)`), and the worker's setup waits for them.
- A checkout run with PYTHONDONTWRITEBYTECODE (this machine's shells) recompiled ~33
  codemode modules at every start (~0.3 s of `compile`): the bench byte-compiles first.
- Third pass: marks on a fresh `Session` with the five servers' lists cached and code calling
  `time`: the SDK's import on a thread took 0.53 → 1.53 s, and only then was the server
  spawned; it answered `initialize` at 2.79 s. The hub now spawns a stdio server first
  (`hub/_stdio.py` imports no SDK) and imports the SDK while it boots: initialize at 1.91 s,
  the run with its close 3.07 → 2.20 s.
- Structural, not removed: five servers connecting at once on 2 cores cost the sum of
  their starts, not the slowest one (two are Python servers whose own start imports the
  SDK, as long as the host's import of it). With their tool lists cached, a run connects
  only the servers its code names.
- Fourth pass, the first `%%codemode` cell (pyinstrument of the cell's main thread, process
  CPU around the cell, 2026-11-30 night): the cell is CPU-bound (process time = wall time).
  Started 3 s after `%load_ext`, it costs 0.87-1.15 s of CPU, what `import mcp` + a direct
  connect, list and call cost in the same shell (0.94-1.10 s). Right after `%load_ext` it
  also pays the warm-up thread's 0.26-0.45 s of CPU: with `mcp` already imported, codemode's
  own modules are 0.06-0.09 s of it (`-X importtime`: no module over 11 ms; the config's
  pydantic models the largest) and the o200k tables 0.06-0.10 s, built by `bpe-openai`'s Rust
  extension with the GIL held, so no thread of the process overlaps it; the rest is pydantic's
  own import, which the SDK needs anyway. The main thread's profile: 0.21 s waiting on the
  import lock the warm-up holds, 0.09 s importing `codemode.engine._session`, 1.05 s in the hub's
  start. py-spy at 1 kHz slowed the run 20-200x on this VM, so it was not used for this.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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
# The same with rfc3987_syntax's IRI parsers deferred as codemode's hub defers them
# (`hub/_lazyiri.py`): what is left is codemode's own cost, like for like.
DIRECT_DEFERRED = "from codemode.hub import _lazyiri\n_lazyiri.install()\n" + DIRECT
SESSION = """
from codemode import Session
with Session() as session:
    assert session.run("demo.get_customer(customer_id=1)['id']").value == 1
"""
# In-script timings: the kernel is already up, so neither side pays an interpreter's start.
DIRECT_IN_SCRIPT = """
import time
started = time.perf_counter()
import anyio, mcp
from codemode.demo import build_server
async def main():
    async with mcp.Client(build_server(), mode="legacy") as client:
        await client.list_tools()
        await client.call_tool("get_customer", {"customer_id": 1})
anyio.run(main)
print(time.perf_counter() - started)
"""
DIRECT_IN_SCRIPT_DEFERRED = DIRECT_IN_SCRIPT.replace(
    "import anyio, mcp", "from codemode.hub import _lazyiri\n_lazyiri.install()\nimport anyio, mcp")
FIRST_CELL = """
import time
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
shell.run_line_magic("load_ext", "codemode")
started = time.perf_counter()
shell.run_cell_magic("codemode", "", "demo.get_customer(customer_id=1)")
print(time.perf_counter() - started)
"""
# One third-party server on its own: a fresh process connects it and lists its tools.
DIRECT_STDIO = """
import json, sys
import anyio, mcp
from mcp.client.stdio import StdioServerParameters, stdio_client
entry = json.loads(sys.argv[1])
async def main():
    params = StdioServerParameters(command=entry["command"], args=entry.get("args", []), env=entry.get("env"))
    async with mcp.Client(stdio_client(params), mode="legacy") as client:
        await client.list_tools()
anyio.run(main)
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


def said(argv: list[str], env: dict[str, str]) -> float:
    """The figure a script prints as its last line (a timing taken inside it)."""
    out = subprocess.run(argv, env=env, check=True, capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1])


def five_servers(scratch: Path) -> tuple[Path, dict[str, dict]] | None:
    """The five real third-party servers as a config file, or None (named) when one is missing."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _peers

    missing = _peers.missing_peers()
    if missing:
        print("five real servers: skipped; " + "; ".join(missing.values()), file=sys.stderr)
        return None
    config = _peers.peers_config(_peers.make_scratch(scratch))
    path = scratch / "five.json"
    path.write_text(json.dumps(config))
    return path, config["mcpServers"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    # Bytecode as an installed package has it (pip compiles on install): otherwise a checkout
    # run with PYTHONDONTWRITEBYTECODE recompiles every codemode module on every start.
    subprocess.run([PY, "-m", "compileall", "-q", SRC], check=True, stdout=subprocess.DEVNULL)
    scratch = Path(tempfile.mkdtemp(prefix="codemode-bench-first-"))
    try:
        measure(args.rounds, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def measure(rounds: int, scratch: Path) -> None:
    """Every row, its processes' caches and the five servers' scratch files under `scratch`."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")])),
           "CODEMODE_CACHE_DIR": str(scratch / "cache"), "CODEMODE_TOOL_CACHE": "1"}
    cold = {**env, "CODEMODE_TOOL_CACHE": "0"}
    exec_argv = [PY, "-m", "codemode", "exec", "-c", "print(1)"]
    timed(exec_argv, env)  # fills the tool cache, as any earlier run on this machine would
    commands: dict[str, tuple[list[str], dict[str, str]]] = {
        "mcp": ([PY, "-c", "import mcp"], env),
        "exec": (exec_argv, env),
        "exec_cold": (exec_argv, cold),
        "direct": ([PY, "-c", DIRECT], env),
        "direct_deferred": ([PY, "-c", DIRECT_DEFERRED], env),
        "session": ([PY, "-c", SESSION], cold),
    }
    said_by: dict[str, tuple[list[str], dict[str, str]]] = {
        "load_ext": ([PY, "-c", LOAD_EXT], env),
        "direct_in": ([PY, "-c", DIRECT_IN_SCRIPT], env),
        "direct_in_deferred": ([PY, "-c", DIRECT_IN_SCRIPT_DEFERRED], env),
        "cell": ([PY, "-c", FIRST_CELL], cold),
        "cell_cached": ([PY, "-c", FIRST_CELL], env),
    }
    five = five_servers(scratch)
    if five is not None:
        path, servers = five
        five_exec = [PY, "-m", "codemode", "exec", "--config", str(path), "-c"]
        timed([*five_exec, "print(1)"], env)  # their tool lists, cached
        for name, entry in servers.items():
            commands[f"peer_{name}"] = ([PY, "-c", DIRECT_STDIO, json.dumps(entry)], env)
        commands["five_exec"] = ([*five_exec, "print(1)"], env)
        commands["five_call"] = ([*five_exec, "time.get_current_time(timezone='UTC')"], env)
        commands["five_cold"] = ([*five_exec, "print(1)"], cold)
    rows: dict[str, list[float]] = {name: [] for name in [*commands, *said_by]}
    for _ in range(rounds):
        for name, (argv, run_env) in commands.items():
            rows[name].append(timed(argv, run_env))
        for name, (argv, run_env) in said_by.items():
            rows[name].append(said(argv, run_env))
    m = {name: statistics.median(values) for name, values in rows.items()}
    print(f"first result, fresh processes, {rounds} interleaved rounds, medians (python {sys.version.split()[0]})")
    print("| measure | median | ratio or difference | bar |\n| --- | --- | --- | --- |")
    print(f"| `python -c 'import mcp'` | {m['mcp']:.2f} s | 1.00x | |")
    print(f"| `codemode exec -c 'print(1)'`, demo, tool list cached | {m['exec']:.2f} s | "
          f"{m['exec'] / m['mcp']:.2f}x | ≤ 1.20x |")
    print(f"| the same, no tool cache (a first run ever) | {m['exec_cold']:.2f} s | {m['exec_cold'] / m['mcp']:.2f}x | |")
    print(f"| direct `mcp.Client` connect + list + call, demo | {m['direct']:.2f} s | | |")
    print(f"| the same, IRI parsers deferred as codemode does | {m['direct_deferred']:.2f} s | | |")
    print(f"| `Session().run(one call)`, fresh process, no tool cache | {m['session']:.2f} s | "
          f"{m['session'] - m['direct']:+.2f} s; {m['session'] - m['direct_deferred']:+.2f} s like for like | ≤ +0.30 s |")
    print(f"| `%load_ext codemode` in a running shell | {m['load_ext']:.3f} s | | ≤ 0.300 s |")
    print(f"| in a running shell: `import mcp` + direct connect + list + call, demo | {m['direct_in']:.2f} s | | |")
    print(f"| the same, IRI parsers deferred as codemode does | {m['direct_in_deferred']:.2f} s | | |")
    for name, what in (("cell", "the first `%%codemode` cell calling a demo tool, right after `%load_ext`, no tool cache"),
                       ("cell_cached", "the same, tool list cached (any run after the first on this machine)")):
        print(f"| {what} | {m[name]:.2f} s | {m[name] - m['direct_in']:+.2f} s; "
              f"{m[name] - m['direct_in_deferred']:+.2f} s like for like | ≤ +0.30 s |")
    if five is not None:
        peers = {name[5:]: m[name] for name in m if name.startswith("peer_")}
        slowest = max(peers, key=peers.__getitem__)
        for name, value in peers.items():
            print(f"| direct `mcp.Client` connect + list, `{name}` alone, fresh process | {value:.2f} s | | |")
        for name, what in (("five_exec", "`codemode exec -c 'print(1)'`, five real servers, tool lists cached"),
                           ("five_call", "the same, code calling `time.get_current_time`"),
                           ("five_cold", "`print(1)`, five real servers, no tool cache (all five connect)")):
            print(f"| {what} | {m[name]:.2f} s | {m[name] - peers[slowest]:+.2f} s over `{slowest}` | ≤ +0.30 s |")


if __name__ == "__main__":
    main()
