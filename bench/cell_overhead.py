"""A trivial `%%codemode` cell against the same code as a plain cell, in one real kernel.

Both kinds of cell run interleaved in the same kernel, timed from execute_request to the
kernel going idle, so machine noise hits both alike. Prints medians and their ratio, for the
IPython kernel with `%load_ext codemode` (`x = 1` against `%%codemode` + `x = 1`) and for
the `codemode` kernel (`%%python` + `x = 1`, run by the kernel itself, against `x = 1`).

    python bench/cell_overhead.py [--rounds 200] [--kernel python3|codemode|both] [--against SRC]

`--against OTHER/src` runs the same in a kernel on another checkout's code, round by round
beside this one: on a busy machine a before/after pair is only fair measured that way.

Where the time goes (2-core machine, 2026-11-30; cProfile with a thread-CPU clock on the
kernel's thread and on the loop's thread, per-thread CPU from /proc/<pid>/task/*/schedstat,
and perf_counter marks across the client, the kernel's threads and the loop):

- A plain cell is about 5 ms, nearly all of it ipykernel's own messaging: the shell channel
  thread hands the request to the main thread, which hands busy, execute_input, the stream
  flushes and idle to the IOPub thread, each a wake-up of another thread that wants the GIL.
  Our cell adds, per cell, about 0.3 ms of main-thread CPU (IPython's cell-magic machinery
  about 0.1 ms, the magic's flag parsing 20-30 us, `SandboxOptions.with_flags`' getcwd,
  two `dataclasses.replace` of the report, `Session.run`'s set-up), 0.4-0.6 ms on the
  loop's thread (the worker round trip `Sandbox.run` about 0.2 ms of it: frame encode,
  check and decode, the per-cell watch task, `wait_for(shield(...))`, the work-dir size; the
  token account, the report and 7 turns of the event loop the rest) and 0.15-0.2 ms in the
  worker (compile, exec, the frame back).
- The waits cost more than the work. The kernel's thread and the loop's handed off four
  times a run (now twice): the portal's `start_task_soon` waits for the loop to say the task
  was spawned (a round trip before the run starts), and the report reached the waiting thread only when the task's future
  completed, a turn of the loop after the run had ended. Each crossing is a wake-up plus a
  wait for the GIL, which the IOPub thread holds at that moment (it is sending the cell's
  busy and execute_input): marks put the start hand-off at 0.5-1.0 ms and the report's at
  0.8-1.5 ms on a loaded machine, as long as the worker's whole round trip.
- Changed: `Session.run` starts its task with one hand-off and no future chained to it
  (`hub._portal.start_soon`), the task hands its outcome to the waiting thread as its last
  step, `Sandbox._wait` resumes two loop turns after the done frame instead of three
  (`asyncio.wait`, not `wait_for(shield(...))`), the magic parses a magic line's flags once,
  skips getcwd when no flag names a path and copies the report only to show it. The live
  panel was already free for a cell without calls (it is made at the first call event) and
  `queue.get(timeout=TICK)` is one timed lock wait, not polling. Marks after the change:
  the report reaches the waiting thread 0.2 ms after the run ends (was 0.8-1.5 ms), the
  magic's own work before the run 0.07 ms (was 0.17-0.24 ms).
- Left, per run, on the loop's thread: the start (a wake-up and two loop turns: asyncio 3.11
  runs a new task's first step a turn after it is made), the per-cell watch task (a step, a
  stat of /proc and a timer when the cell starts, a turn to cancel it after), the work-dir
  size after every cell (the default 1 GiB disk bound), frame encode/check/decode; in the
  worker, compile and the frames (0.15-0.2 ms of CPU); on the kernel's thread, IPython's
  cell-magic path. Each turn of the loop is an epoll that lets the IOPub thread take the GIL.
- Third pass (RUSAGE_THREAD of the loop and calling threads, /proc for the worker, 2,000
  `Session.run('x = 1')`): the loop's thread spent 430-530 us a run. Now the per-cell watch
  starts from a timer one tick into the cell (a cell that ends sooner makes no task, no
  step, no cancellation), the run awaits a future the done frame settles (one loop turn
  after it, not two as with `asyncio.wait`), the magic's options are not rebuilt when a
  cell gives no flag, and the token account joins the servers' texts once: 300-350 us on
  the loop, 46-56 us on the calling thread (was 79-95), 562-634 us a run (was 720-833),
  A/B in one sitting. In the kernel the ratio moved from 1.16-1.18x to 1.14-1.15x beside
  the old code (`--against`, three runs). Then the worker keeps a re-run cell's compiled
  code (only code with no nested function, whose frames would keep the first run's name):
  `Worker.run('x = 1')` in process 81 → 37 us, most of it `ast.parse` and `compile`.
- Fourth pass (perf_counter marks inside the kernel, from IPython's pre_run_cell to
  post_run_cell, 150 cells; thread CPU of the loop per handle): a code-mode cell adds
  0.8-1.1 ms to a plain cell's 5-7 ms. IPython's cell-magic path until `Session.run`:
  0.18-0.28 ms. The hand-off to the loop: 0.2-0.4 ms, of which 0.23 ms is the loop's
  thread waking to the `call_soon_threadsafe` (it sleeps in epoll; the GIL is busy with
  the kernel's own threads as the cell starts) and ~0.07 ms the task's first step, which
  asyncio 3.11 runs a loop turn after the task is made. The exec frame to the report:
  0.4-0.6 ms (the worker's round trip, the loop's ~0.19 ms of CPU for the run's task: the
  report, the token account, a run id, the work dir's size). Outside a kernel the same
  `Session.run` takes 0.6 ms. Tried: waking the loop at `pre_run_cell` so that it is up
  when the run is handed over; it moved 40-70 us from one step to the other (the woken
  thread takes the GIL from the magic's path), within the noise, so it is not kept. What
  would remove the hand-off is the caller's thread writing the exec frame itself, which
  means the run's turn, its cell and its timer set up off the loop: not done.
- Fifth pass (cells of several kinds interleaved in one kernel, 300-400 rounds, which
  resolves about 0.06 ms; per-thread CPU from /proc/<pid>/task/*/schedstat): a code-mode
  cell's extra ~1.0 ms is 0.29 ms for any cell magic (a registered no-op), 0.18 ms for a
  bare round trip from the kernel's thread to the hub's loop and back
  (`call_soon_threadsafe` + a queue), 0.09 ms for a round trip to a child process (`cat`),
  and the rest the run's own CPU on three threads that each wake cold: in a kernel the
  loop's thread spends 0.6-0.8 ms of CPU a run (0.3 ms outside one; even a bare hop costs
  it 0.08 ms), the worker 0.2 ms, and the kernel's own main and IOPub threads 0.2-0.4 ms
  more than for a plain cell. Tried, measured, not kept: the kernel's thread writing the
  exec frame to the worker itself (no gain: the worker's reply came no sooner, the 2 CPUs
  being busy with the kernel's threads at a cell's start); starting the run in the loop's
  wake-up step with the turn taken synchronously and the code's tokens counted while the
  worker runs (no gain beside the old code, `--against`). Upper bounds by leaving work out:
  no report at all -0.13 ms, no token account -0.06 ms, no work-dir size -0.03 ms. The
  rest is the architecture (a thread and a process per run) on a VM whose idle CPUs wake
  slowly: with a second kernel running beside it, the same cells measure 1.11-1.12x.
- Sixth pass (cProfile of IPython's `run_cell`, 2,000 cells in process, `x = 1` against a
  registered no-op cell magic): a `%%` cell costs ~0.2 ms more before any magic runs. The
  token transforms tokenize the cell with its `%%` line (30,000 against 12,000 `_tokenize`
  steps), and the rewritten `get_ipython().run_cell_magic(...)` compiles at twice the cost;
  `run_cell_magic` itself (`var_expand`, the builtin trap) is 37 us. That is IPython's, paid
  by the `codemode` kernel's plain `%%python` cell too; routing cells around IPython's
  `run_cell` would lose its history, events and error display, so it is not done.
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
# kernel → (setup cells, the plain cell, the code-mode cell)
KERNELS = {
    "python3": (["%load_ext codemode"], CODE, f"%%codemode\n{CODE}"),
    "codemode": ([], f"%%python\n{CODE}", CODE),
}


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


def measure(kernel: str, rounds: int, trees: list[str]) -> list[tuple[float, float]]:
    """Median seconds of the plain cell and of the code-mode cell, one `kernel` per source
    tree, every round going through each kernel in turn (noise hits all of them alike)."""
    setup, plain_cell, codemode_cell = KERNELS[kernel]
    started = []
    try:
        for tree in trees:
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [tree, os.environ.get("PYTHONPATH")]))}
            started.append(start_new_kernel(kernel_name=kernel, env=env))
            client = started[-1][1]
            for cell in setup:
                execute(client, cell)
            execute(client, "%codemode servers")  # connect the demo server before timing
            for _ in range(20):  # warm both paths
                execute(client, plain_cell)
                execute(client, codemode_cell)
        times: list[tuple[list[float], list[float]]] = [([], []) for _ in trees]
        for _ in range(rounds):
            for (_, client), (plain, codemode) in zip(started, times):
                plain.append(execute(client, plain_cell))
                codemode.append(execute(client, codemode_cell))
    finally:
        for manager, client in started:
            client.stop_channels()
            manager.shutdown_kernel(now=True)
    return [(statistics.median(plain), statistics.median(codemode)) for plain, codemode in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--kernel", choices=["python3", "codemode", "both"], default="both")
    parser.add_argument("--against", metavar="SRC", action="append", default=[],
                        help="another tree's src/ (an earlier checkout) measured beside this one, for before/after")
    args = parser.parse_args()
    kernels = list(KERNELS) if args.kernel == "both" else [args.kernel]
    trees = [SRC, *args.against]
    print(f"cell `{CODE}`, {args.rounds} rounds each, interleaved in one kernel per tree (python {sys.version.split()[0]})")
    print("| kernel | tree | plain cell | code-mode cell | ratio | bar |\n| --- | --- | --- | --- | --- | --- |")
    for kernel in kernels:
        plain, codemode = (" ".join(cell.split("\n")) for cell in KERNELS[kernel][1:])
        for tree, (p, c) in zip(trees, measure(kernel, args.rounds, trees)):
            name = "this" if tree == SRC else tree
            print(f"| {kernel} | {name} | `{plain}` {p * 1000:.2f} ms | `{codemode}` {c * 1000:.2f} ms "
                  f"| {c / p:.2f}x | ≤ 1.15x |")


if __name__ == "__main__":
    main()
