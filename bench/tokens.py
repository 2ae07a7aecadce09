"""Tokens of one realistic task: classic tool calling against code mode, five real servers.

The task, written as one code cell: list a folder of notes, keep the markdown files, read
each, pull out its title and section headings, store each note as a memory entity with the
headings as observations, query memory back, get the current time, print a five-line
summary. It runs against the five third-party servers of `bench/_peers.py` (everything,
filesystem, memory, time, git), all configured, as a user with those servers would have
them.

Each run's `RunReport.tokens` counts both sides of the same work:

- classic tool calling: every tool definition of the five servers in the context, then each
  call's arguments and each result passing through the model;
- code mode with all stubs: the stub text of the five servers, the code, and what it printed;
- code mode with search only: the same, except that the surface is only what the cell's own
  `codemode.search(...)` calls returned (so that variant starts with three searches, as an
  agent that has not seen the API would).

Each variant runs in a fresh session over a fresh scratch directory (removed afterwards), so
both runs see the same files and an empty memory. The scratch path appears in the code and the
arguments, so counts move by a few tokens from run to run.

    python bench/tokens.py        (after `make peers`, which installs the Node servers)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from codemode.config import parse_config
from codemode.engine import Session

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _peers  # noqa: E402

RUN_TIMEOUT = 120.0  # seconds for the task's cell; it takes well under one here

TASK = '''
ROOT = {files!r}
listing = filesystem.list_directory(path=ROOT)["content"]
notes = sorted(line.split(" ", 1)[1] for line in listing.splitlines()
               if line.startswith("[FILE]") and line.endswith(".md"))
entities = []
for name in notes:
    lines = filesystem.read_text_file(path=f"{{ROOT}}/{{name}}")["content"].splitlines()
    title = next(line[2:] for line in lines if line.startswith("# "))
    sections = [line[3:] for line in lines if line.startswith("## ")]
    entities.append({{"name": title, "entityType": "note", "observations": [f"file {{name}}", *sections]}})
memory.create_entities(entities=entities)
stored = memory.search_nodes(query="note")["entities"]
now = time.get_current_time(timezone="UTC")
print(f"{{len(stored)}} of {{len(notes)}} notes in memory at {{now['datetime']}}")
for entity in stored:
    print(f"- {{entity['name']}}: {{', '.join(entity['observations'][1:])}}")
'''

# What an agent that has not read the API asks first, at the detail it needs to write calls.
SEARCHES = '''
import codemode
codemode.search("list directory read text file", detail="signatures")
codemode.search("create entities search nodes memory", detail="signatures")
codemode.search("current time", detail="signatures")
'''

VARIANTS = (
    ("stubs", "code mode, all stubs", ""),
    ("search", "code mode, search only", SEARCHES),
)


def run_task(disclosure: str, prelude: str) -> tuple[Any, dict[str, int], dict[str, int]]:
    """Run the task once in a fresh session over a fresh scratch directory.

    Returns:
        The run's report, each server's number of tools, and each server's definition bytes.
    """
    with tempfile.TemporaryDirectory(prefix=f"codemode-tokens-{disclosure}-") as directory:
        scratch = _peers.make_scratch(Path(directory))
        config = parse_config(_peers.peers_config(scratch), source=None, environ=dict(os.environ))
        with Session(config, disclosure=disclosure) as session:
            report = session.run(prelude + TASK.format(files=str(scratch["files"])), timeout=RUN_TIMEOUT)
            tool_counts = {name: len(state.tools) for name, state in session.servers.items()}
            definitions = definition_bytes(session)
    if not report.ok:
        raise SystemExit(f"the task failed ({disclosure}): {report.error}")
    return report, tool_counts, definitions


def definition_bytes(session: Session) -> dict[str, int]:
    """Each connected server's `tools/list` as compact wire JSON, in bytes."""
    return {
        name: len(json.dumps(state.wire_tools, separators=(",", ":"), ensure_ascii=False).encode())
        for name, state in session.servers.items()
        if state.status == "connected"
    }


def table(reports: dict[str, Any]) -> str:
    classic = reports["stubs"].tokens  # the classic column is the same work in both runs
    columns = [reports[disclosure].tokens for disclosure, _, _ in VARIANTS]
    rows = [
        ("definitions / surface", classic.classic["definitions"],
         [t.code_mode["surface"] for t in columns]),
        ("arguments + results / code", classic.classic["arguments"] + classic.classic["results"],
         [t.code_mode["code"] for t in columns]),
        ("output", None, [t.code_mode["output"] for t in columns]),
        ("total", classic.classic_total, [t.code_mode_total for t in columns]),
    ]
    header = ["tokens", "classic tool calling", *(title for _, title, _ in VARIANTS)]
    lines = ["| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1)]
    for label, left, right in rows:
        cells = ["–" if left is None else f"{left:,}", *(f"{n:,}" for n in right)]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    ratios = ["1.00×", *(f"{t.ratio:.2f}×" for t in columns)]
    lines.append("| ratio (classic ÷ code mode) | " + " | ".join(ratios) + " |")
    return "\n".join(lines)


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    missing = _peers.missing_peers()
    if missing:
        raise SystemExit("bench/tokens.py needs all five servers: " + "; ".join(missing.values()))
    reports: dict[str, Any] = {}
    for disclosure, _, prelude in VARIANTS:
        reports[disclosure], tool_counts, definitions = run_task(disclosure, prelude)

    stubs = reports["stubs"]
    account = stubs.tokens
    print("bench/tokens.py: one task as one code cell, five real MCP servers\n")
    print("servers: " + ", ".join(f"{name} ({count} tools)" for name, count in tool_counts.items())
          + f"; {sum(tool_counts.values())} tools")
    print("tool definitions (tools/list, compact JSON): "
          + ", ".join(f"{name} {size / 1000:.1f} KB" for name, size in definitions.items())
          + f"; {sum(definitions.values()) / 1000:.1f} KB in all")
    print(f"tool calls the task made: {len(stubs.calls)} "
          f"({', '.join(sorted({f'{c.server}.{c.tool}' for c in stubs.calls}))})\n")
    print(table(reports))
    print(f"\nclassic arguments {account.classic['arguments']:,} + results {account.classic['results']:,}; "
          f"the search-only cell adds {SEARCHES.count('codemode.search(')} codemode.search calls, "
          "which are not tool calls")
    exact = "exact counts" if account.exact else "an estimate"
    print(f"tokenizer: {account.tokenizer}, {exact}")
    print("\nthe task's output:\n" + stubs.stdout.rstrip())


if __name__ == "__main__":
    main()
