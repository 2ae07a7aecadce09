"""A trivial `%%codemode` cell against the same code as a plain cell, in one real kernel.

Both kinds of cell run interleaved in the same kernel, timed from execute_request to the
kernel going idle, so machine noise hits both alike. Prints medians and their ratio.

    python bench/cell_overhead.py [--rounds 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from jupyter_client.manager import start_new_kernel

SRC = str(Path(__file__).resolve().parents[1] / "src")
CODE = "x = 1"


def execute(client, code: str, timeout: float = 60.0) -> float:
    started = time.perf_counter()
    msg_id = client.execute(code, store_history=False)
    while True:
        msg = client.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "error":
            raise RuntimeError("\n".join(msg["content"]["traceback"]))
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")]))}
    manager, client = start_new_kernel(kernel_name="python3", env=env)
    try:
        execute(client, "%load_ext codemode")
        execute(client, "%codemode servers")  # connect the demo server before timing
        for _ in range(20):  # warm both paths
            execute(client, CODE)
            execute(client, f"%%codemode\n{CODE}")
        plain, codemode = [], []
        for _ in range(args.rounds):
            plain.append(execute(client, CODE))
            codemode.append(execute(client, f"%%codemode\n{CODE}"))
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    p, c = statistics.median(plain), statistics.median(codemode)
    print(f"cell `{CODE}`, {args.rounds} rounds each, interleaved in one kernel (python {sys.version.split()[0]})")
    print(f"| cell | median |\n| --- | --- |\n| plain | {p * 1000:.2f} ms |\n| %%codemode | {c * 1000:.2f} ms |")
    print(f"ratio %%codemode / plain: {c / p:.2f}x (bar ≤ 1.15x)")


if __name__ == "__main__":
    main()
