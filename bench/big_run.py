"""10,000 calls in one run: the size of the saved report and what the host keeps per call.

- The saved output: the MIME bundle and metadata a notebook stores for one cell that made
  `--calls` calls (bar < 200 KB). The report keeps the first `FULL_CALLS` calls and every
  failure whole and sums up the rest per tool; `trace=PATH` writes each call to a file.
- Host memory per call: Python heap still allocated (tracemalloc) after a run, holding its
  report, for a short and a long run; the difference over the extra calls is what each call
  beyond the first ones costs the host (bar ≤ 0.5 KB).

    python bench/big_run.py [--calls 10000]

Profile findings (2026-11-30): before, a 10,000-call cell saved 13 MB (every call with its
arguments and result preview, in the JSON payload and again in the HTML), and the host kept
about 2 KB a call: the `ToolCall` with its result payload, plus up to 64 KB of argument and
result JSON per call held for the token account until the run ended. After: calls past the
first 100 that succeed become one float (their duration) in a per-tool summary; the wire JSON
is counted in batches of 2 MB and dropped; the live panel only shows the calls kept whole.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tracemalloc

from codemode.config import demo_config
from codemode.engine import Session
from codemode.trace._calllog import FULL_CALLS
from codemode.trace._render import mimebundle

LOOP = "for i in range({calls}):\n    demo.get_customer(customer_id=1 + i % 5)\nlen(range({calls}))"


def kept_bytes(session: Session, calls: int) -> tuple[int, object]:
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    report = session.run(LOOP.format(calls=calls), timeout=3600)
    assert report.ok, report.error
    gc.collect()
    return tracemalloc.get_traced_memory()[0] - before, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    args = parser.parse_args()
    with Session(demo_config()) as session:
        session.run("demo.get_customer(customer_id=1)")  # connect and warm
        report = session.run(LOOP.format(calls=args.calls), timeout=3600)
        assert report.ok and report.total_calls == args.calls, report.error
        data, metadata = mimebundle(report)
        saved = len(json.dumps(data, ensure_ascii=False)) + len(json.dumps(metadata, ensure_ascii=False))
        small, large = args.calls // 10, args.calls // 2
        tracemalloc.start()
        kept_small, _ = kept_bytes(session, small)
        kept_large, _ = kept_bytes(session, large)
        tracemalloc.stop()
    per_call = (kept_large - kept_small) / (large - small)
    print(f"one run of {args.calls:,} calls to the in-process demo (python {sys.version.split()[0]})")
    print("| measure | value | bar |\n| --- | --- | --- |")
    print(f"| saved report (MIME bundle + metadata) | {saved / 1024:.1f} KB | < 200 KB |")
    print(f"| calls kept whole | the first {FULL_CALLS} and every failure | |")
    print(f"| host memory per call past those ({small:,} vs {large:,} calls) | {per_call:.0f} B | ≤ 512 B |")


if __name__ == "__main__":
    main()
