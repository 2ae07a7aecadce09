"""Past one machine, for real: Debian's HAProxy with deploy/haproxy.cfg in front of two
`codemode serve --transport http --port N --token T` processes (nothing else on their command
line), 20 handshake-era sessions and 20 handle sessions at once.

Every session keeps its own variables across executes (no error, no cross-talk) on whichever
backend it landed; then one backend is killed: the sessions on the other go on untouched, and
each session of the dead one gets an `isError` result with code SESSION_LOST and a fresh handle
(from the live backend) that works, never a protocol error or a hang.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _helpers import stop
from _serving import HttpServer, start_http, write_config

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "haproxy.cfg"
TOKEN = "lb-test-token"
SESSIONS = 20
SCENARIO_TIMEOUT = 600.0
"""Seconds for the whole scenario on a loaded 2-core machine: 40 workers start; a hang fails it."""


def _haproxy() -> str:
    found = shutil.which("haproxy")
    if found is None:
        if os.environ.get("CODEMODE_SKIP_HAPROXY") == "1":
            pytest.skip("CODEMODE_SKIP_HAPROXY=1")
        pytest.fail("the load-balancer test needs Debian's haproxy: apt-get install haproxy "
                    "(`make test` installs it), or set CODEMODE_SKIP_HAPROXY=1 to skip it")
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[str, list[HttpServer]]]:
    haproxy = _haproxy()
    config = write_config(tmp_path / "mcp.json", {"cellTimeout": 60})
    env = {"CODEMODE_SERVE_TOKEN": TOKEN}
    with contextlib.ExitStack() as stack:
        backends = [stack.enter_context(_started(start_http(config, env=env))) for _ in range(2)]
        for backend in backends:
            backend.token = TOKEN
        port = _free_port()
        lb_env = {**os.environ, "CODEMODE_LB_BIND": f"127.0.0.1:{port}",
                  **{f"CODEMODE_BACKEND_{n}": backend.url.split("/")[2] for n, backend in enumerate(backends, 1)}}
        log = open(tmp_path / "haproxy.log", "wb")  # noqa: SIM115 - closed with the stack
        stack.callback(log.close)
        proxy = subprocess.Popen([haproxy, "-db", "-f", str(CONFIG)], env=lb_env, stdin=subprocess.DEVNULL,
                                 stdout=log, stderr=subprocess.STDOUT)
        stack.callback(stop, proxy)
        _wait_listening(port, proxy)
        yield f"http://127.0.0.1:{port}/mcp", backends


@contextlib.contextmanager
def _started(servers: Iterator[HttpServer]) -> Iterator[HttpServer]:
    """One server of `start_http`'s generator, stopped (its generator closed) on exit."""
    try:
        yield next(servers)
    finally:
        servers.close()  # type: ignore[attr-defined]


def _wait_listening(port: int, proxy: subprocess.Popen[bytes]) -> None:
    from _helpers import wait_until

    def up() -> bool:
        assert proxy.poll() is None, "haproxy exited: see haproxy.log"
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    wait_until(up, "haproxy listening")


def test_two_backends_behind_haproxy_lose_no_session_and_say_session_lost_for_a_dead_one(
        cluster: tuple[str, list[HttpServer]]) -> None:
    import anyio

    url, backends = cluster
    seen: dict[str, Any] = {"errors": [], "first": {}, "after": {}}

    async def one(name: str, mode: str, opened: anyio.Event, killed: anyio.Event, count: list[int]) -> None:
        import httpx2
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client

        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"},
                                  timeout=httpx2.Timeout(60.0, read=300.0))
        async with http, Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            await client.list_tools()  # a 2026 client mirrors the handle into Mcp-Param-Session from here on
            first = await client.call_tool("execute", {"code": f"tag = {name!r}\ndemo.get_customer(customer_id=1)['id']"})
            handle = first.structured_content["session"]
            again = await client.call_tool("execute", {"code": "tag", "session": handle} if mode != "legacy"
                                           else {"code": "tag"})
            seen["first"][name] = (handle, first, again)
            count[0] += 1
            if count[0] == 2 * SESSIONS:
                opened.set()
            await killed.wait()
            after = await client.call_tool("execute", {"code": "tag", "session": handle} if mode != "legacy"
                                           else {"code": "tag"})
            fresh = None
            if after.is_error:
                fresh = await client.call_tool("execute", {"code": f"tag = {name!r} + ' again'\ntag",
                                                           "session": after.structured_content["session"]})
            seen["after"][name] = (after, fresh)

    async def main() -> None:
        opened, killed = anyio.Event(), anyio.Event()
        count = [0]
        with anyio.fail_after(SCENARIO_TIMEOUT):
            async with anyio.create_task_group() as tg:
                for i in range(SESSIONS):
                    tg.start_soon(one, f"legacy-{i}", "legacy", opened, killed, count)
                    tg.start_soon(one, f"modern-{i}", "2026-07-28", opened, killed, count)
                await opened.wait()
                seen["routes"] = {name: handle.partition(".")[0] for name, (handle, _, _) in seen["first"].items()}
                backends[1].process.send_signal(signal.SIGKILL)
                backends[1].process.wait(timeout=30)
                killed.set()

    anyio.run(main)
    routes = seen["routes"]
    # Both eras were spread over both backends, and each session kept its own variables.
    for era in ("legacy", "modern"):
        assert {route for name, route in routes.items() if name.startswith(era)} == {"b1", "b2"}, routes
    for name, (handle, first, again) in seen["first"].items():
        assert not first.is_error and not again.is_error, (name, first.content[0].text, again.content[0].text)
        assert again.structured_content["result"] == name and again.structured_content["session"] == handle
    # After b2 died: b1's sessions are untouched; b2's get SESSION_LOST and a fresh handle that works.
    for name, (after, fresh) in seen["after"].items():
        if routes[name] == "b1":
            assert not after.is_error and after.structured_content["result"] == name, after.content[0].text
            assert fresh is None
        else:
            assert after.is_error and after.structured_content["error"]["code"] == "SESSION_LOST", \
                after.content[0].text
            assert after.structured_content["session"].startswith("b1.")
            assert fresh is not None and not fresh.is_error and fresh.structured_content["result"] == f"{name} again"


APPROVAL_CODE = 'demo.cancel_order(order_id=demo.list_orders(status="open")[0]["id"])["status"]'


def test_a_first_2026_execute_asked_a_question_behind_haproxy_gets_its_answer_on_the_backend_that_asked(
        cluster: tuple[str, list[HttpServer]]) -> None:
    # The first execute of a session carries no handle, so the proxy balances it; its retry with
    # the answer must reach the process whose run waits (the route in front of its requestState).
    import anyio
    import httpx2
    from mcp import Client, types
    from mcp.client.streamable_http import streamable_http_client

    url, _ = cluster
    asked: list[str] = []

    async def answer(context: Any, params: Any) -> Any:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"decision": "once"})

    async def main() -> list[Any]:
        results = []
        for index in range(4):  # round-robin: a retry balanced like the first request would miss
            http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=httpx2.Timeout(60.0))
            async with http, Client(streamable_http_client(url, http_client=http), mode="2026-07-28",
                                    elicitation_callback=answer) as client:
                if index % 2:  # one request more shifts the round-robin: the executes land on both backends
                    await client.list_tools()
                results.append(await client.call_tool("execute", {"code": APPROVAL_CODE}))
        return results

    results = anyio.run(main)
    for result in results:
        assert not result.is_error, result.content[0].text
        assert result.structured_content["calls"][1]["approval"]["decision"] == "approved"
    assert len(asked) == 4
    assert {result.structured_content["session"].partition(".")[0] for result in results} == {"b1", "b2"}


def test_2026_tasks_behind_haproxy_are_polled_on_the_backend_that_runs_them(
        cluster: tuple[str, list[HttpServer]]) -> None:
    # Each task's id names its backend; the proxy routes tasks/get by it (params.taskId), so a
    # poll never meets the other backend's "no task here".
    import anyio
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from test_serve_tasks import _tasks_extension

    url, _ = cluster
    handles: dict[str, str] = {}  # a session on each backend, by its route
    seen: dict[str, Any] = {}

    def client(**options: Any) -> Any:
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=httpx2.Timeout(60.0))
        return http, Client(streamable_http_client(url, http_client=http), mode="2026-07-28", **options)

    async def main() -> None:
        for index in range(12):  # round-robin puts new sessions on both backends
            http, plain = client()
            async with http, plain:
                for _ in range(index % 2):  # one request more shifts the round-robin (a client makes two)
                    await plain.list_tools()
                first = await plain.call_tool("execute", {"code": f"tag = {index}"})
                handle = first.structured_content["session"]
                handles.setdefault(handle.partition(".")[0], handle)
            if len(handles) == 2:
                break
        for route, handle in handles.items():
            http, tasks = client(extensions=[_tasks_extension()])
            async with http, tasks:
                await tasks.list_tools()  # the client mirrors `session` into Mcp-Param-Session from here on
                task = await tasks.session.call_tool("execute", {"code": "tag", "session": handle}, allow_claimed=True)
                done = await tasks.call_tool("execute", {"code": "tag * 2", "session": handle})  # polled to its end
                seen[route] = (task.task_id, done)

    anyio.run(main)
    assert set(seen) == {"b1", "b2"}, handles
    for route, (task_id, done) in seen.items():
        assert task_id.startswith(f"{route}."), (route, task_id)
        assert not done.is_error, done.content[0].text
        assert done.structured_content["session"] == handles[route]
