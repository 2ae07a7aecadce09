"""The host's own bounds (issue 25, items 1 and 3): what a cell sends cannot freeze the host's
event loop, nor grow its memory with the calls it has in flight.

Real parts: a session and a second one sharing its hub (as `codemode serve` gives each client,
`Session.share`), real workers, and a real MCP server over stdio (`hostile_server.py`: a
`pattern` that backtracks, a slow tool that counts how many of its calls are in flight).
Bombs are forged through the worker's own channel, as hostile code would send them.

Evidence, not time: the bystander's `1 + 1` finishes before the bomb's output is even shown;
a bomb's cell ends inside its own time limit (the host enforces it: a frozen host cannot);
the server saw at most the capped number of calls at once. Memory figures are printed.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codemode.config import parse_config
from codemode.engine import Session

HOSTILE = str(Path(__file__).parent.parent / "faults" / "hostile_server.py")
# A bomb's cell limit: seconds past what the capped work needs, far short of what the bombs
# cost a host that does not cap them (measured: 8-20 s each). The host enforces it; a frozen
# host cannot, so a cell that ends inside it is the evidence.
LIMIT = 10
WAIT = 120
CAP_BYTES = 16 * 1024 * 1024  # sandbox._host.MAX_CALL_BYTES_IN_FLIGHT
FORGE = ("import sys\nch = sys.modules['codemode.sandbox._api']._channel\n"
         "def forged(server, tool, arguments):\n"
         "    return ch._request(server, tool, lambda i: ch.send({'op': 'call', 'id': i, 'server': server, "
         "'tool': tool, 'arguments': arguments}))\n")


@pytest.fixture(scope="module")
def sessions() -> Iterator[tuple[Session, Session]]:
    config = parse_config({"mcpServers": {"hostile": {"command": sys.executable, "args": [HOSTILE]}}})
    with Session(config) as host:
        host.run("1")
        bystander = host.share()
        try:
            bystander.run("1")
            yield host, bystander
        finally:
            bystander.close()


def _rss_mib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        return next(int(line.split()[1]) // 1024 for line in status if line.startswith("VmRSS:"))


@pytest.mark.escape("host-trust")
def test_a_markdown_bomb_is_cleaned_off_the_loop_while_a_bystander_runs(sessions: tuple[Session, Session]) -> None:
    host, bystander = sessions
    order: list[str] = []
    armed = threading.Event()

    def on_event(event: tuple[str, Any]) -> None:
        if event[0] == "stdout" and "armed" in event[1]:
            armed.set()
        if event[0] == "display":
            order.append("bomb shown")

    # Just under the Markdown cap: the worst input mistune meets, 1-2 s of conversion.
    code = ("class Bomb:\n    def _repr_markdown_(self):\n        return '[a](' * 16000\n"
            "print('armed', flush=True)\ndisplay(Bomb())")
    reports: list[Any] = []
    bomb = threading.Thread(target=lambda: reports.append(host.run(code, on_event=on_event, timeout=WAIT)))
    bomb.start()
    try:
        assert armed.wait(WAIT)
        after = bystander.run("1 + 1")
        order.append("bystander done")
    finally:
        bomb.join(WAIT)
    assert after.result == {"kind": "json", "value": 2}
    assert order == ["bystander done", "bomb shown"]  # the bystander did not wait for the bomb
    assert reports and reports[0].ok and "text/html" in reports[0].displays[0]["data"]


@pytest.mark.escape("host-trust")
def test_a_markdown_over_the_cap_is_not_converted(sessions: tuple[Session, Session]) -> None:
    host, _ = sessions
    report = host.run("class Bomb:\n    def _repr_markdown_(self):\n        return '[a](' * 200000\n"
                      "display(Bomb())", timeout=LIMIT)
    assert report.ok and not report.timed_out, report.error
    assert report.displays_truncated == 1 and set(report.displays[0]["data"]) == {"text/plain"}


@pytest.mark.escape("host-trust")
def test_a_backtracking_schema_pattern_cannot_stall_the_host(sessions: tuple[Session, Session]) -> None:
    host, bystander = sessions
    # `^(a+)+$` on 28 a's and a '!': 2^28 steps in a backtracking engine (Python's `re`).
    report = host.run(FORGE + "try:\n    forged('hostile', 'match', {'text': 'a' * 28 + '!'})\n"
                      "except ToolError as exc:\n    print(exc.code)", timeout=LIMIT)
    assert not report.timed_out, report.error
    assert report.stdout.strip() == "INVALID_ARGUMENTS"
    assert bystander.run("1 + 1").result == {"kind": "json", "value": 2}


@pytest.mark.escape("host-trust")
def test_a_call_with_100000_unknown_arguments_gets_20_problems_in_time(sessions: tuple[Session, Session]) -> None:
    host, _ = sessions
    # Each unknown name's "did you mean" weighs the tool's forty names (~0.3 ms a name).
    # The cell goes on a moment after its answer, so a host that froze past the cell's limit
    # meets the limit first when it wakes (the answer would otherwise race the timer).
    report = host.run(FORGE + "try:\n    forged('hostile', 'wide', {f'x{i}': 1 for i in range(100_000)})\n"
                      "except ToolError as exc:\n    print(exc.message.count('unknown argument'), exc.code)\n"
                      "import time\ntime.sleep(1)", timeout=LIMIT)
    assert not report.timed_out, report.error
    assert report.stdout.split() == ["20", "INVALID_ARGUMENTS"]


@pytest.mark.escape("host-trust")
def test_a_search_of_two_million_words_reads_only_its_start(sessions: tuple[Session, Session]) -> None:
    host, bystander = sessions
    report = host.run("query = 'echo ' + ' '.join(f'w{i}' for i in range(2_000_000))\n"
                      "codemode.search(query, detail='names')", timeout=LIMIT)
    assert not report.timed_out, report.error
    assert report.result == {"kind": "json", "value": "hostile.echo"}
    assert bystander.run("1 + 1").result == {"kind": "json", "value": 2}


@pytest.mark.escape("resources")
def test_calls_in_flight_are_capped_by_bytes_so_host_memory_is_bounded(sessions: tuple[Session, Session]) -> None:
    host, _ = sessions
    before = _rss_mib()
    code = ("import asyncio\nasync def main():\n    data = 'x' * (4 << 20)\n"
            "    return sum(await asyncio.gather(*(hostile.slow.acall(data=data, seconds=0.5) for _ in range(48))))\n"
            "total = await main()\n[total, hostile.peak()]")
    report = host.run(code, timeout=WAIT)
    grown = _rss_mib() - before
    assert report.ok, report.error
    total, peak = report.result["value"]
    assert total == 48 * (4 << 20)  # every call ran
    # The channel is not read past the cap: at most the cap's worth of calls, plus the one
    # that crossed it, reached the server at once (48 without the cap).
    assert peak <= CAP_BYTES // (4 << 20) + 1, peak
    print(f"host RSS growth, 48 gathered 4 MiB calls: {grown} MiB; at most {peak} in flight")


@pytest.mark.escape("resources")
def test_a_report_keeps_previews_of_big_results(sessions: tuple[Session, Session]) -> None:
    host, _ = sessions
    before = _rss_mib()
    report = host.run("data = 'y' * (8 << 20)\nsum(len(hostile.echo(data=data)) for _ in range(40))", timeout=WAIT)
    grown = _rss_mib() - before
    assert report.result == {"kind": "json", "value": 40 * (8 << 20)}
    assert len(report.calls) == 40
    assert all(call.result is not None and call.result.get("truncated") for call in report.calls)
    assert all(call.result_bytes > 8 << 20 for call in report.calls)  # the size is still told
    print(f"host RSS growth, 40 sequential 8 MiB calls: {grown} MiB")


@pytest.mark.escape("host-trust")
def test_an_svg_nested_deep_is_refused_and_the_worker_lives(sessions: tuple[Session, Session]) -> None:
    host, _ = sessions
    host.run("kept = 41")
    report = host.run("class Deep:\n    def _repr_svg_(self):\n"
                      "        return '<svg xmlns=\"http://www.w3.org/2000/svg\">' + '<g>' * 3000 + '</g>' * 3000 + '</svg>'\n"
                      "display(Deep())\n'after'", timeout=WAIT)
    assert report.ok and report.result == {"kind": "json", "value": "after"}, report.error
    assert report.outputs_refused == {"image/svg+xml": 1}
    after = host.run("kept + 1")
    assert after.result == {"kind": "json", "value": 42} and not after.worker_restarted


@pytest.mark.escape("resources")
def test_interrupting_a_cell_held_at_the_cap_keeps_its_worker(sessions: tuple[Session, Session]) -> None:
    host, _ = sessions
    host.run("kept = 41")
    started: set[int] = set()
    held = threading.Event()
    cancel = threading.Event()

    def on_event(event: tuple[str, Any]) -> None:
        if event[0] == "call":
            started.add(event[1].id)
            if len(started) >= CAP_BYTES // (4 << 20):  # the cap is reached: the channel is held
                held.set()

    code = ("import asyncio\nasync def main():\n    data = 'x' * (4 << 20)\n"
            "    return await asyncio.gather(*(hostile.slow.acall(data=data, seconds=60) for _ in range(12)))\n"
            "await main()")
    reports: list[Any] = []
    run = threading.Thread(target=lambda: reports.append(host.run(code, on_event=on_event, timeout=WAIT, cancel=cancel)))
    run.start()
    try:
        assert held.wait(WAIT)
    finally:
        cancel.set()
        run.join(WAIT)
    [report] = reports
    assert not report.ok and not report.state_lost, report.error  # interrupted, variables kept
    after = host.run("kept + 1")
    assert after.result == {"kind": "json", "value": 42} and not after.worker_restarted
