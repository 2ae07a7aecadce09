"""Approval on each face, through the real channel a person would answer on.

- the codemode kernel and the magic, through jupyter_client with stdin replies (a front end
  that takes input, as JupyterLab), and with `allow_stdin` off (as nbclient and nbval run);
- the CLI through a pseudo-terminal (a person at a terminal) and without one (a pipe);
- an MCP server's `execute` through the SDK's client with an elicitation callback that
  accepts, declines, or is absent (`tests/elicit_server.py`, the same approver serve uses).

The call asked about is the demo's `cancel_order` (`destructiveHint: true`); whether it
reached the server is checked on the server's state (the order's status), not on our report.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from kernels import SRC, Kernel

from codemode.trace import MIME_TYPE

HERE = Path(__file__).resolve().parent
CLI_TIMEOUT = 120.0  # a CLI run starts the demo server and a worker: seconds on a cold machine
CATCH = (
    "from codemode import ToolError\n"
    "try:\n    demo.cancel_order(order_id={order})\nexcept ToolError as exc:\n    print('refused', exc.code)\n"
    'demo.get_order(order_id={order})["status"]'
)


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CODEMODE_CONFIG", "PYTHONPATH")}
    env.update(PYTHONPATH=os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")])),
               XDG_CONFIG_HOME=str(tmp / "config"), XDG_STATE_HOME=str(tmp / "state"))
    return env


def _report(cell: Any) -> dict[str, Any]:
    return cell.reports[-1]["data"][MIME_TYPE]


def _value(cell: Any) -> Any:
    return _report(cell)["result"]["value"]


# -- the codemode kernel and the magic ---------------------------------------------------------


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    with Kernel(tmp_path_factory.mktemp("approval-kernel"), kernel_name="codemode") as kernel:
        yield kernel


def test_kernel_asks_on_stdin_and_a_yes_lets_the_call_through(kernel: Kernel) -> None:
    seen: list[list[dict[str, Any]]] = []

    def yes(prompt: str, updates: list[dict[str, Any]]) -> str:
        seen.append(updates)
        return "y"

    printed: list[str] = []
    cell = kernel.run('demo.cancel_order(order_id=1030)["status"]', answer=yes,
                      on_output=lambda kind, content: printed.append(content.get("text", "")) if kind == "stream" else None)
    assert len(cell.prompts) == 1 and cell.prompts[0].startswith("demo.cancel_order: Allow?")
    # The question, short: the call's Python names and its arguments, one indented block ...
    assert "codemode: demo.cancel_order needs approval (destructiveHint: true)\n    order_id=1030\n" in "".join(printed)
    # ... and gone from the cell once answered: the decision is in the report, which comes last.
    assert "needs approval" not in cell.stdout and cell.outputs[-1][0] == "display_data"
    (call,) = _report(cell)["calls"]
    assert call["status"] == "ok"
    assert call["approval"] == {"decision": "approved", "by": "a person (kernel stdin)"}
    assert _value(cell) == "cancelled"
    # The live panel showed the call as waiting while the question was open.
    waiting = [u for u in cell.updates if any(c["status"] == "waiting" for c in u["data"].get(MIME_TYPE, {}).get("calls", []))]
    assert waiting


def test_kernel_denial_is_catchable_and_the_server_never_sees_the_call(kernel: Kernel) -> None:
    cell = kernel.run(CATCH.format(order=1029), answer=lambda prompt, updates: "n")
    assert "refused APPROVAL_DENIED" in cell.stdout and _value(cell) == "open"
    assert _report(cell)["calls"][0]["approval"] == {"decision": "denied", "by": "a person (kernel stdin)"}


def test_kernel_with_nobody_to_ask_refuses_with_the_way_to_pre_approve(kernel: Kernel) -> None:
    cell = kernel.execute("demo.cancel_order(order_id=1029)", allow_stdin=False)
    assert cell.reply["status"] == "error" and cell.prompts == []
    assert cell.error["ename"] == "ToolError" and "APPROVAL_REQUIRED" in cell.all_text
    assert "--approve demo.cancel_order" in cell.all_text
    flagged = kernel.run('%%codemode --approve demo.cancel_order\ndemo.cancel_order(order_id=1029)["status"]',
                         allow_stdin=False)
    assert _value(flagged) == "cancelled"
    assert _report(flagged)["calls"][0]["approval"] == {"decision": "preapproved", "by": "--approve"}


def test_kernel_answer_a_approves_the_tool_for_the_rest_of_the_session(kernel: Kernel) -> None:
    first = kernel.run('demo.cancel_order(order_id=1028)["status"]', answer=lambda prompt, updates: "a")
    assert len(first.prompts) == 1
    later = kernel.run('demo.cancel_order(order_id=1027)["status"]', allow_stdin=False)
    assert _value(later) == "cancelled" and later.prompts == []
    assert _report(later)["calls"][0]["approval"]["decision"] == "preapproved"


def test_the_magic_in_a_plain_ipython_kernel_asks_the_same_way(tmp_path: Path) -> None:
    with Kernel(tmp_path, kernel_name="python3") as kernel:
        kernel.run("%load_ext codemode")
        cell = kernel.run('%%codemode\ndemo.cancel_order(order_id=1030)["status"]', answer=lambda p, u: "y")
        assert len(cell.prompts) == 1 and _report(cell)["calls"][0]["approval"]["decision"] == "approved"
        refused = kernel.execute("%%codemode\ndemo.cancel_order(order_id=1029)", allow_stdin=False)
        assert "APPROVAL_REQUIRED" in refused.all_text


# -- the CLI -----------------------------------------------------------------------------------


def _cli_on_terminal(args: list[str], answer: str | None, env: dict[str, str]) -> tuple[int, str]:
    """Run `codemode ARGS` with a pseudo-terminal as its controlling terminal and stdio; answer
    the approval prompt with `answer` when it shows (None: never answer)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the pty is its stdin, stdout, stderr and /dev/tty
        os.execve(sys.executable, [sys.executable, "-m", "codemode", *args], env)
    seen = b""
    answered = False
    try:
        while True:
            readable, _, _ = select.select([fd], [], [], CLI_TIMEOUT)
            assert readable, f"the CLI went quiet:\n{seen.decode(errors='replace')}"
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
            if answer is not None and not answered and b"n = no:" in seen:
                os.write(fd, answer.encode() + b"\n")
                answered = True
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), seen.decode(errors="replace").replace("\r\n", "\n")


def test_cli_asks_on_the_terminal_and_a_yes_runs_the_call(tmp_path: Path) -> None:
    code, out = _cli_on_terminal(["exec", "-c", 'demo.cancel_order(order_id=1030)["status"]'], "y", _env(tmp_path))
    assert code == 0, out
    assert "codemode: demo.cancel_order needs approval (destructiveHint: true)\n    order_id=1030\n" in out
    assert "approval: approved by a person (terminal)" in out and "cancelled" in out


def test_cli_denial_on_the_terminal_is_catchable(tmp_path: Path) -> None:
    code, out = _cli_on_terminal(["exec", "-c", CATCH.format(order=1030)], "n", _env(tmp_path))
    assert code == 0, out
    assert "refused APPROVAL_DENIED" in out and "open" in out


def test_cli_without_a_terminal_refuses_and_says_how_to_pre_approve(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "codemode", "exec", "-c", "demo.cancel_order(order_id=1030)"],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, env=_env(tmp_path),
                          timeout=CLI_TIMEOUT)
    assert done.returncode == 1
    assert "APPROVAL_REQUIRED" in done.stderr and "stdin is not a terminal" in done.stderr
    assert "--approve demo.cancel_order" in done.stderr


def test_cli_pre_approval_by_flag_and_by_config_asks_nobody(tmp_path: Path) -> None:
    flagged = subprocess.run([sys.executable, "-m", "codemode", "exec", "--json", "--approve", "demo.cancel_*",
                              "-c", 'demo.cancel_order(order_id=1030)["status"]'],
                             stdin=subprocess.DEVNULL, capture_output=True, text=True, env=_env(tmp_path),
                             timeout=CLI_TIMEOUT)
    report = json.loads(flagged.stdout)
    assert report["result"]["value"] == "cancelled" and len(report["runId"]) == 26
    assert report["calls"][0]["approval"] == {"decision": "preapproved", "by": "--approve"}
    from codemode.config import demo_config

    demo = demo_config().servers["demo"].model_dump(exclude_defaults=True)
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"demo": demo}, "codemode": {"preapproved": ["demo.cancel_order"]}}))
    by_config = subprocess.run([sys.executable, "-m", "codemode", "exec", "--config", str(config), "-c",
                                'demo.cancel_order(order_id=1030)["status"]'],
                               stdin=subprocess.DEVNULL, capture_output=True, text=True, env=_env(tmp_path),
                               timeout=CLI_TIMEOUT)
    assert by_config.returncode == 0, by_config.stderr
    assert "approval: preapproved by codemode.preapproved" in by_config.stderr


def test_cli_with_no_answer_in_time_refuses(tmp_path: Path) -> None:
    from codemode.config import demo_config

    demo = demo_config().servers["demo"].model_dump(exclude_defaults=True)
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"demo": demo}, "codemode": {"approvalTimeout": 0.5}}))
    code, out = _cli_on_terminal(["exec", "--config", str(config), "-c", "demo.cancel_order(order_id=1030)"],
                                 None, _env(tmp_path))
    assert code == 1 and "APPROVAL_REQUIRED" in out and "no answer within 0.5 s" in out


# -- an MCP server's client, through elicitation ------------------------------------------------


def _execute_over_mcp(code: str, callback: Any, tmp: Path) -> dict[str, Any]:
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(command=sys.executable, args=[str(HERE / "elicit_server.py")], env=_env(tmp))
    asked: list[Any] = []

    async def main() -> dict[str, Any]:
        async def recording(context: Any, params: Any) -> Any:
            asked.append(params)
            return await callback(context, params)

        async with Client(params, mode="legacy",
                          elicitation_callback=recording if callback is not None else None) as client:
            result = await client.call_tool("execute", {"code": code})
        return {**json.loads(result.content[0].text), "asked": asked}

    return anyio.run(main)


def _answer(action: str, decision: str | None = None) -> Any:
    from mcp import types

    async def callback(context: Any, params: Any) -> Any:
        content = {"decision": decision} if decision is not None else None
        return types.ElicitResult(action=action, content=content)

    return callback


def test_serve_elicitation_accepted_once_runs_the_call(tmp_path: Path) -> None:
    out = _execute_over_mcp(CATCH.format(order=1030), _answer("accept", "once"), tmp_path)
    (asked,) = out["asked"]
    assert asked.message == "codemode: demo.cancel_order needs approval (destructiveHint: true)\n    order_id=1030"
    assert asked.requested_schema["properties"]["decision"]["oneOf"][0]["const"] == "once"
    assert out["stdout"] == "" and out["calls"][0]["approval"] == {"decision": "approved",
                                                                   "by": "a person (MCP elicitation)"}
    assert len(out["runId"]) == 26
    # A server face audits by default, under the user's state directory.
    events = [json.loads(line) for line in (tmp_path / "state" / "codemode" / "audit.jsonl").read_text().splitlines()]
    decided = [e for e in events if e["event"] == "approval" and e["run"] == out["runId"]]
    assert [(e["face"], e["outcome"], e["by"]) for e in decided] == [("serve", "approved", "a person (MCP elicitation)")]


def test_serve_elicitation_declined_is_a_denial_the_code_catches(tmp_path: Path) -> None:
    out = _execute_over_mcp(CATCH.format(order=1030), _answer("decline"), tmp_path)
    assert out["stdout"] == "refused APPROVAL_DENIED\n"
    assert out["calls"][0]["approval"]["decision"] == "denied" and "declined" in out["calls"][0]["approval"]["by"]


def test_serve_client_without_elicitation_gets_approval_required(tmp_path: Path) -> None:
    out = _execute_over_mcp("demo.cancel_order(order_id=1030)", None, tmp_path)
    assert out["asked"] == [] and out["error"] == "APPROVAL_REQUIRED"
    assert "elicitation capability" in out["calls"][0]["approval"]["by"]
