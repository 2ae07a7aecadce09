"""The warm pool of `codemode serve` starts workers in parallel, and parallel starts hold.

Real workers (sandboxed subprocesses) sharing one real hub (the demo server): the pool's
background fill starts its workers at once, and forty sessions that find the pool empty
each start their own at the same moment. Every worker must come up and serve a tool call;
none may be lost, and none may be left running once closed.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from codemode.serve._pool import WorkerPool

FILL_WAIT = 300.0  # seconds for a pool to fill on a loaded 2-core machine: a bound on a hang, not a measure
CODE = "name = demo.get_customer(customer_id=1)['name']\nmine = {}\nname"


def _serve_a_call(worker: Any) -> str:
    report = worker.run(CODE, timeout=60)
    assert report.ok, report.error
    assert [c.tool for c in report.calls] == ["get_customer"]
    return str(report.value)


def test_the_pool_fills_its_warm_workers_in_parallel(demo_session: Any, process_exited: Any) -> None:
    pool = WorkerPool(demo_session, 6)
    pool.open()
    deadline = time.monotonic() + FILL_WAIT
    while pool.warm < 6 and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        assert pool.warm == 6 and pool.started == 6
        assert pool.most_starting > 1  # the starts overlapped: none waited for another
        workers = [pool.take() for _ in range(6)]
        assert len({id(w) for w in workers}) == 6
        with ThreadPoolExecutor(6) as threads:
            names = list(threads.map(_serve_a_call, workers))
        assert len(set(names)) == 1
        pids = [w._sandbox.pid for w in workers]  # each its own process
        assert len(set(pids)) == 6
    finally:
        pool.close()
        for worker in locals().get("workers", []):
            worker.close()
    assert all(process_exited(pid, 30) for pid in pids)


def test_forty_sessions_that_find_the_pool_empty_start_forty_workers_at_once(demo_session: Any) -> None:
    pool = WorkerPool(demo_session, 0)  # no warm worker: every take is a cold start
    gate = threading.Barrier(40)

    def session() -> Any:
        gate.wait()
        return pool.take()

    with ThreadPoolExecutor(40) as threads:
        workers = list(threads.map(lambda _: session(), range(40)))
    try:
        assert pool.started == 40 and pool.starting == 0
        assert pool.most_starting > 1
        assert all(w.started for w in workers)
        with ThreadPoolExecutor(8) as threads:
            names = list(threads.map(_serve_a_call, workers))
        assert len(names) == 40 and len(set(names)) == 1
    finally:
        with ThreadPoolExecutor(8) as threads:
            list(threads.map(lambda w: w.close(), workers))
        pool.close()


def test_a_pool_closed_while_it_fills_stops_every_worker_it_started(demo_session: Any) -> None:
    made: list[Any] = []

    def make() -> Any:
        made.append(demo_session.share())
        return made[-1]

    pool = WorkerPool(demo_session, 4, make=make)
    pool.open()
    deadline = time.monotonic() + FILL_WAIT
    while not pool.starting and pool.warm < 4 and time.monotonic() < deadline:
        time.sleep(0.001)
    pool.close()  # starts in flight: close waits for them and stops what they started
    assert made and pool.warm == 0 and pool.starting == 0
    assert not any(worker.started for worker in made)
