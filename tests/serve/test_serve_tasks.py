"""`execute` as an MCP task, through real clients over real transports.

The 2026-07-28 era (the `io.modelcontextprotocol/tasks` extension) through the SDK's own
`Client`, with a small client extension of the test's that declares Tasks and claims the
`resultType: "task"` shape (the SDK has the extension machinery, not a Tasks client); the
2025-11-25 era (the tasks utility) through the official TypeScript requester,
`@modelcontextprotocol/ext-tasks`, on the TypeScript SDK's client (tests/peers/tasks_client.mjs).

The long runs wait for evidence: their code waits for a file the test creates (the worker may
read the test's folder: `allowRead`), and the test waits for the task's status message to name
the tool call the code made first, never for a set time.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import pytest

from _serving import run_stdio, start_http, write_config

MODERN = "2026-07-28"
PEERS = Path(__file__).resolve().parents[1] / "peers"
TERMINAL = ("completed", "failed", "cancelled")
# Polls of tasks/get before a test gives up: at the server's suggested interval, about a minute.
POLLS = 600


def _waiting(go: Path) -> str:
    """Code that makes one tool call, then waits until `go` exists (or forever)."""
    return (f"import os, time\nname = demo.get_customer(customer_id=1)['name']\nstep = 0\n"
            f"while not os.path.exists({str(go)!r}):\n    step += 1\n    time.sleep(0.01)\nname")


def _tasks_extension() -> Any:
    """A client extension that declares Tasks and claims its task handle, for `allow_claimed` calls."""
    import mcp_types as types
    from mcp.client.extension import ClientExtension, ResultClaim

    class TaskHandle(types.Result):
        result_type: Literal["task"] = "task"
        task_id: str
        status: str
        status_message: str | None = None
        ttl_ms: int | None = None
        poll_interval_ms: int | None = None

    async def resolve(handle: TaskHandle, context: Any) -> types.CallToolResult:
        done = await _poll(context.session, handle.task_id, lambda task: task["status"] in TERMINAL)
        return types.CallToolResult.model_validate(done["result"])

    class Tasks(ClientExtension):
        identifier = "io.modelcontextprotocol/tasks"

        def claims(self) -> Any:
            return [ResultClaim(result_type="task", model=TaskHandle, resolve=resolve)]

    return Tasks()


async def _send(session: Any, method: str, task_id: str, **params: Any) -> dict[str, Any]:
    """A tasks/* request (the SDK's types have no 2026 shapes for them: the reply as a dict)."""
    import mcp_types as types
    from pydantic import TypeAdapter

    class TaskParams(types.RequestParams):
        task_id: str
        input_responses: dict[str, Any] | None = None

    class TaskRequest(types.Request[TaskParams, str]):
        name_param = "taskId"  # the extension's Mcp-Name routing header, on HTTP

    request = TaskRequest(method=method, params=TaskParams.model_validate({"taskId": task_id, **params}))
    reply: dict[str, Any] = await session.send_request(request, TypeAdapter(dict[str, Any]))
    return reply


async def _poll(session: Any, task_id: str, until: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """tasks/get at the interval the server suggests, until `until(task)` holds."""
    import anyio

    for _ in range(POLLS):
        task = await _send(session, "tasks/get", task_id)
        if until(task):
            return task
        await anyio.sleep(task.get("pollIntervalMs", 1000) / 10_000)  # a tenth of it: a test that polls briskly
    raise AssertionError(f"task {task_id} never got there: {task}")


def _ran_get_customer(task: dict[str, Any]) -> bool:
    return "demo.get_customer ok" in task.get("statusMessage", "") or task["status"] in TERMINAL


@pytest.fixture
def shared() -> Iterator[Path]:
    """A folder the worker can read: pytest's own are private to this user, and the worker runs as another."""
    folder = Path(tempfile.mkdtemp(prefix="codemode-tasks-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def config(tmp_path: Path, shared: Path) -> Path:
    return write_config(tmp_path / "mcp.json", {"allowRead": [str(shared)], "cellTimeout": 60})


def test_a_2026_execute_runs_as_a_task_then_completes_with_the_plain_result(config: Path, shared: Path) -> None:
    go = shared / "go"

    async def scenario(client: Any) -> dict[str, Any]:
        import mcp_types as types

        discover = client.server_capabilities
        warm = await client.call_tool("execute", {"code": "x = 41\nx"})  # the task claimed and resolved, transparently
        handle = warm.structured_content["session"]
        task = await client.session.call_tool("execute", {"code": _waiting(go), "session": handle},
                                              allow_claimed=True)
        running = await _poll(client.session, task.task_id, _ran_get_customer)
        go.touch()
        done = await _poll(client.session, task.task_id, lambda task: task["status"] in TERMINAL)
        plain = await client.call_tool("execute", {"code": _waiting(go), "session": handle})
        return {"discover": discover, "warm": warm, "task": task, "running": running,
                "done": done, "result": types.CallToolResult.model_validate(done["result"]), "plain": plain}

    seen = run_stdio(config, scenario, mode="auto", extensions=[_tasks_extension()])  # auto: a real server/discover
    assert "io.modelcontextprotocol/tasks" in (seen["discover"].extensions or {})
    assert seen["warm"].structured_content["result"] == 41
    task = seen["task"]
    assert task.status == "working" and task.ttl_ms == 3600 * 1000 and task.poll_interval_ms == 1000
    running = seen["running"]
    assert running["status"] == "working", running
    assert running["resultType"] == "complete" and "result" not in running
    done, result, plain = seen["done"], seen["result"], seen["plain"]
    assert done["status"] == "completed" and done["statusMessage"] == "the run ended"
    # The very result a plain execute gives: same blocks, same fields, same values (its run id aside).
    assert not result.is_error and result.structured_content["result"] == plain.structured_content["result"]
    assert set(result.structured_content) == set(plain.structured_content)
    assert result.structured_content["session"] == plain.structured_content["session"]
    assert [block.type for block in result.content] == [block.type for block in plain.content]
    assert result.structured_content["calls"][0]["tool"] == "get_customer"


def test_a_cancelled_task_interrupts_its_code_and_the_sessions_next_execute_runs(config: Path, shared: Path) -> None:
    never = shared / "never"

    async def scenario(client: Any) -> dict[str, Any]:
        from mcp.shared.exceptions import MCPError

        warm = await client.call_tool("execute", {"code": "kept = 'yes'"})
        handle = warm.structured_content["session"]
        task = await client.session.call_tool("execute", {"code": _waiting(never), "session": handle},
                                              allow_claimed=True)
        await _poll(client.session, task.task_id, _ran_get_customer)
        ack = await _send(client.session, "tasks/cancel", task.task_id)
        cancelled = await _send(client.session, "tasks/get", task.task_id)
        after = await client.call_tool("execute", {"code": "(kept, step)", "session": handle})
        with pytest.raises(MCPError) as unknown:
            await _send(client.session, "tasks/get", "no-such-task")
        with pytest.raises(MCPError) as legacy_only:
            await _send(client.session, "tasks/result", task.task_id)
        return {"ack": ack, "cancelled": cancelled, "after": after, "unknown": unknown.value,
                "legacy_only": legacy_only.value}

    seen = run_stdio(config, scenario, mode=MODERN, extensions=[_tasks_extension()])
    assert seen["ack"]["resultType"] == "complete"
    assert seen["cancelled"]["status"] == "cancelled"
    after = seen["after"]
    assert not after.is_error, after.content[0].text
    kept, step = after.structured_content["result"]
    assert kept == "yes" and step >= 1  # the same worker, its code stopped mid-wait
    assert seen["unknown"].code == -32602 and "no task 'no-such-task'" in seen["unknown"].message
    assert seen["legacy_only"].code == -32601


APPROVAL_CODE = "demo.cancel_order(order_id=1030)\ndemo.get_order(order_id=1030)['status']"


def test_a_task_whose_code_needs_an_approval_asks_in_tasks_get_and_goes_on_with_tasks_update(config: Path) -> None:
    code = APPROVAL_CODE

    async def never_asked(context: Any, params: Any) -> Any:  # declares elicitation; a task asks through tasks/get
        raise AssertionError("a task's question came as an elicitation request")

    async def scenario(client: Any) -> dict[str, Any]:
        task = await client.session.call_tool("execute", {"code": code}, allow_claimed=True)
        asking = await _poll(client.session, task.task_id, lambda task: task["status"] != "working")
        ack = await _send(client.session, "tasks/update", task.task_id,
                          inputResponses={key: {"action": "accept", "content": {"decision": "once"}}
                                          for key in asking.get("inputRequests", {})})
        done = await _poll(client.session, task.task_id, lambda task: task["status"] in TERMINAL)
        return {"asking": asking, "ack": ack, "done": done}

    seen = run_stdio(config, scenario, mode=MODERN, extensions=[_tasks_extension()], elicitation_callback=never_asked)
    asking = seen["asking"]
    assert asking["status"] == "input_required" and list(asking["inputRequests"]) == ["approval-1"]
    question = asking["inputRequests"]["approval-1"]
    assert question["method"] == "elicitation/create" and "demo.cancel_order needs approval" in question["params"]["message"]
    assert seen["ack"]["resultType"] == "complete"
    done = seen["done"]
    assert done["status"] == "completed", done
    data = done["result"]["structuredContent"]
    assert data["result"] == "cancelled" and data["calls"][0]["approval"]["decision"] == "approved"


def test_a_task_cancelled_while_it_asks_stops_at_once_and_the_sessions_next_execute_runs(tmp_path: Path) -> None:
    config = write_config(tmp_path / "mcp.json", {"approvalTimeout": 3600, "cellTimeout": 7200})

    async def never_asked(context: Any, params: Any) -> Any:
        raise AssertionError("a task's question came as an elicitation request")

    async def scenario(client: Any) -> dict[str, Any]:
        import anyio

        warm = await client.call_tool("execute", {"code": "kept = 'yes'"})
        handle = warm.structured_content["session"]
        task = await client.session.call_tool("execute", {"code": APPROVAL_CODE, "session": handle},
                                              allow_claimed=True)
        asking = await _poll(client.session, task.task_id, lambda task: task["status"] != "working")
        with anyio.fail_after(60):  # far below the approval timeout: the cancel withdrew the question
            await _send(client.session, "tasks/cancel", task.task_id)
            after = await client.call_tool("execute", {"code": "kept", "session": handle})
        return {"asking": asking, "cancelled": await _send(client.session, "tasks/get", task.task_id),
                "after": after}

    seen = run_stdio(config, scenario, mode=MODERN, extensions=[_tasks_extension()], elicitation_callback=never_asked)
    assert seen["asking"]["status"] == "input_required"
    assert seen["cancelled"]["status"] == "cancelled"
    assert seen["after"].structured_content["result"] == "yes"


def test_a_2026_client_without_the_extension_gets_a_plain_result_and_no_tasks(config: Path) -> None:
    async def scenario(client: Any) -> dict[str, Any]:
        from mcp.shared.exceptions import MCPError

        result = await client.call_tool("execute", {"code": "6 * 7"})
        with pytest.raises(MCPError) as refused:
            await _send(client.session, "tasks/get", "x")
        return {"result": result, "refused": refused.value}

    seen = run_stdio(config, scenario, mode=MODERN)
    assert seen["result"].structured_content["result"] == 42
    refused = seen["refused"]
    assert refused.code == -32021 and "io.modelcontextprotocol/tasks" in refused.message
    assert refused.data == {"requiredCapabilities": {"extensions": {"io.modelcontextprotocol/tasks": {}}}}


def test_a_handshake_era_client_sees_the_tasks_capability_and_plain_calls_are_unchanged(config: Path) -> None:
    async def scenario(client: Any) -> dict[str, Any]:
        tools = await client.list_tools()
        result = await client.call_tool("execute", {"code": "6 * 7"})
        return {"capabilities": client.server_capabilities, "tools": tools, "result": result}

    seen = run_stdio(config, scenario)
    tasks = seen["capabilities"].tasks
    assert tasks is not None and tasks.requests.tools.call is not None and tasks.cancel is not None
    execution = {tool.name: tool.execution for tool in seen["tools"].tools}
    assert execution["execute"].task_support == "optional" and execution["search"] is None
    assert seen["result"].structured_content["result"] == 42 and not seen["result"].is_error


TOKEN, OTHER = "tasks-test-token-first-aaaa", "tasks-test-token-other-bbbb"


def test_a_task_answers_only_its_token_and_a_token_has_at_most_16_running(tmp_path: Path, shared: Path) -> None:
    import anyio

    never = shared / "never"
    config = write_config(tmp_path / "mcp.json", {"allowRead": [str(shared)], "cellTimeout": 60, "rateLimit": {
        "executesPerMinute": 1000, "tiers": [{"token": "${CODEMODE_TEST_TIER}", "executesPerMinute": 1000}]}})
    for server in start_http(config, env={"CODEMODE_SERVE_TOKEN": TOKEN, "CODEMODE_TEST_TIER": OTHER}):
        async def main() -> dict[str, Any]:
            from mcp.shared.exceptions import MCPError

            seen: dict[str, Any] = {}
            server.token = TOKEN
            async with server.client(mode=MODERN, extensions=[_tasks_extension()]) as client:
                warm = await client.call_tool("execute", {"code": "1"})
                handle = warm.structured_content["session"]
                first = await client.session.call_tool("execute", {"code": _waiting(never), "session": handle},
                                                       allow_claimed=True)
                await _poll(client.session, first.task_id, _ran_get_customer)
                # 15 more wait behind it for the session; one more is refused.
                queued = [await client.session.call_tool("execute", {"code": "1", "session": handle},
                                                         allow_claimed=True) for _ in range(15)]
                with pytest.raises(MCPError) as over:
                    await client.session.call_tool("execute", {"code": "1", "session": handle}, allow_claimed=True)
                seen["over"] = over.value
                server.token = OTHER
                async with server.client(mode=MODERN, extensions=[_tasks_extension()]) as other:
                    for method in ("tasks/get", "tasks/cancel"):
                        with pytest.raises(MCPError) as hidden:
                            await _send(other.session, method, first.task_id)
                        seen[method] = hidden.value
                seen["still"] = await _send(client.session, "tasks/get", first.task_id)
                await _send(client.session, "tasks/cancel", first.task_id)
                seen["queued"] = await _poll(client.session, queued[-1].task_id,
                                             lambda task: task["status"] in TERMINAL)
            return seen

        seen = anyio.run(main)
    over = seen["over"]
    assert over.code == -32600 and "16 tasks of this token are still running" in over.message
    for method in ("tasks/get", "tasks/cancel"):
        assert seen[method].code == -32602 and "no task" in seen[method].message
    assert seen["still"]["status"] == "working"  # the other token's cancel did nothing
    queued = seen["queued"]
    assert queued["status"] == "completed" and queued["result"]["structuredContent"]["result"] == 1


@pytest.mark.skipif(not (PEERS / "node_modules" / "@modelcontextprotocol" / "ext-tasks").exists()
                    or shutil.which("node") is None, reason="the TypeScript peers are not installed (make peers)")
def test_the_typescript_tasks_requester_runs_cancels_and_approves_2025_execute_tasks(config: Path, shared: Path
                                                                                       ) -> None:
    go, never = shared / "go", shared / "never"
    for server in start_http(config):
        client = subprocess.Popen(["node", str(PEERS / "tasks_client.mjs"), server.url, _waiting(go), _waiting(never),
                                   APPROVAL_CODE],
                                  cwd=PEERS, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert client.stdout is not None
        first = client.stdout.readline()  # the script says when its first task's code has made its call
        assert first.startswith("running"), first + (client.stderr.read() if client.stderr else "")
        go.touch()
        out, err = client.communicate(timeout=180)
        assert client.returncode == 0, err
    seen = json.loads(out.strip().splitlines()[-1])
    assert seen["protocolVersion"] == "2025-11-25" and seen["taskSupport"] == "optional"
    assert seen["created"] == "working" and seen["running"] == "working"
    assert seen["ttls"] == [60_000, 24 * 3600 * 1000]  # the TTL asked for, bounded by the most a task is kept
    assert seen["result"]["structuredContent"]["result"] == "Anna Keller", seen["result"]
    assert seen["result"]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"] == seen["taskId"]
    assert seen["plain"]["structuredContent"]["result"] == seen["result"]["structuredContent"]["result"]
    assert seen["cancelled"] == "cancelled" and seen["afterCancel"]["structuredContent"]["result"] >= 1
    # The approval: a real elicitation request, tied to its task, answered through the requester.
    [asked] = seen["asked"]
    assert asked["kind"] == "elicitation" and asked["taskId"] == seen["approvingTaskId"], asked
    assert "demo.cancel_order needs approval" in asked["message"]
    approved = seen["approved"]["structuredContent"]
    assert approved["result"] == "cancelled" and approved["calls"][0]["approval"]["decision"] == "approved"


EVERYTHING = PEERS / "node_modules" / ".bin" / "mcp-server-everything"


def test_an_upstream_url_question_in_a_2026_task_waits_in_tasks_get_and_tasks_update_answers_it(
        tmp_path: Path) -> None:
    if not EVERYTHING.exists():
        pytest.fail("the everything server is not installed: run `make peers`")
    config = write_config(tmp_path / "mcp.json", {"preapproved": ["*"]},
                          {"everything": {"command": str(EVERYTHING), "args": ["stdio"]}})
    code = "print(everything.trigger_url_elicitation(url='https://example.com/sign-in'))"

    async def never_asked(context: Any, params: Any) -> Any:
        raise AssertionError("a task's question came as an elicitation request")

    async def scenario(client: Any) -> dict[str, Any]:
        task = await client.session.call_tool("execute", {"code": code}, allow_claimed=True)
        asking = await _poll(client.session, task.task_id, lambda task: task["status"] != "working")
        await _send(client.session, "tasks/update", task.task_id,
                    inputResponses={key: {"action": "accept"} for key in asking.get("inputRequests", {})})
        done = await _poll(client.session, task.task_id, lambda task: task["status"] in TERMINAL)
        return {"asking": asking, "done": done}

    seen = run_stdio(config, scenario, mode=MODERN, extensions=[_tasks_extension()], elicitation_callback=never_asked)
    asking = seen["asking"]
    assert asking["status"] == "input_required", asking
    [question] = asking["inputRequests"].values()
    assert question["params"]["mode"] == "url" and question["params"]["url"] == "https://example.com/sign-in"
    done = seen["done"]
    assert done["status"] == "completed", done
    assert "accept" in done["result"]["structuredContent"]["stdout"], done
