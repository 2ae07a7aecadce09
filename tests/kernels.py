"""A real kernel for tests: started by jupyter_client, talked to the way a notebook does.

`Kernel.execute` collects the iopub messages a front end would show for one cell (and the
display updates); `children_of` finds what a kernel started (proctable.py reads the process
table), to check that it ends with it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.manager import KernelManager
from proctable import cmdline, descendants, start_time

import codemode
from codemode.trace import MIME_TYPE

SRC = str(Path(codemode.__file__).resolve().parent.parent)
# A kernel starts in about a second; the first codemode cell also connects the demo server
# (about 1.5 s). Generous bounds, so a loaded CI machine fails only on a real hang.
START_TIMEOUT = 60.0
CELL_TIMEOUT = 60.0
# Command-line marks of the processes a codemode session starts.
CHILD_MARKS = ("codemode.demo", "codemode.sandbox.worker")


def stdio_demo_config(directory: Path) -> Path:
    """An mcp.json in `directory` (a kernel's work dir finds it) naming the demo as a stdio
    server: the built-in default serves it in process, so tests of the processes a session
    owns configure the real stdio one, as a user who names `python -m codemode.demo` does."""
    path = directory / "mcp.json"
    path.write_text(json.dumps({"mcpServers": {"demo": {
        "command": sys.executable, "args": ["-m", "codemode.demo"], "env": {"PYTHONPATH": SRC}}}}))
    return path


@dataclass
class Execution:
    """What one execute request produced: its iopub outputs, in order, as a front end keeps
    them (a `clear_output` clears those before it), and the reply."""

    outputs: list[tuple[str, dict[str, Any]]]  # (msg_type, content)
    reply: dict[str, Any]
    updates: list[dict[str, Any]] = field(default_factory=list)  # update_display_data contents
    prompts: list[str] = field(default_factory=list)  # input requests the cell made (stdin)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [content for msg_type, content in self.outputs if msg_type == kind]

    def stream(self, name: str) -> str:
        return "".join(c["text"] for c in self.of("stream") if c["name"] == name)

    @property
    def stdout(self) -> str:
        return self.stream("stdout")

    @property
    def stderr(self) -> str:
        return self.stream("stderr")

    @property
    def error(self) -> dict[str, Any]:
        (error,) = self.of("error")
        return error

    @property
    def reports(self) -> list[dict[str, Any]]:
        """The run reports the cell displayed, each in its final state (what a saved notebook
        holds: a live panel's last update)."""
        final = {u["transient"]["display_id"]: u for u in self.updates if u.get("transient")}
        shown = []
        for content in self.of("display_data"):
            display_id = (content.get("transient") or {}).get("display_id")
            content = final.get(display_id, content) if display_id else content
            if MIME_TYPE in content["data"]:
                shown.append(content)
        return shown

    @property
    def value(self) -> str:
        """The text/plain of the cell's execute_result."""
        (result,) = self.of("execute_result")
        return result["data"]["text/plain"]

    @property
    def all_text(self) -> str:
        """Every text the cell showed, tracebacks included, for negative assertions."""
        parts: list[str] = [str(self.reply)]
        for _, content in self.outputs:
            parts.append(str(content))
        return "\n".join(parts)


class Kernel:
    """An ipykernel child process and a client on its channels; `with Kernel(...) as kernel`
    shuts it down at the end."""

    loaded: Execution  # what `%load_ext codemode` showed, for the module's kernel

    def __init__(self, workdir: Path, kernel_name: str = "python3") -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("CODEMODE_CONFIG", "PYTHONPATH")}
        env.update(
            PYTHONPATH=os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")])),
            XDG_CONFIG_HOME=str(workdir / "config"),  # no user mcp.json
            IPYTHONDIR=str(workdir / "ipython"),  # no user profile or startup files
        )
        self.manager = KernelManager(kernel_name=kernel_name)
        self.manager.start_kernel(env=env, cwd=str(workdir))
        self.client = self.manager.client()
        self.client.start_channels()
        try:
            self.client.wait_for_ready(timeout=START_TIMEOUT)
        except BaseException:
            self.shutdown()
            raise

    def execute(
        self,
        code: str,
        *,
        timeout: float = CELL_TIMEOUT,
        on_output: Callable[[str, dict[str, Any]], None] | None = None,
        allow_stdin: bool = True,
        answer: Callable[[str, list[dict[str, Any]]], str] | None = None,
    ) -> Execution:
        """Run a cell; collect its outputs until the kernel is idle again, then its reply.
        `allow_stdin=False` runs it as nbval and nbclient do (no person watching). With
        `answer`, each input request the cell makes (a JupyterLab input box) is answered with
        `answer(prompt, the display updates so far)`."""
        return self.collect(self.client.execute(code, allow_stdin=allow_stdin), code, timeout=timeout,
                            on_output=on_output, answer=answer)

    def collect(
        self,
        msg_id: str,
        code: str = "",
        *,
        timeout: float = CELL_TIMEOUT,
        on_output: Callable[[str, dict[str, Any]], None] | None = None,
        answer: Callable[[str, list[dict[str, Any]]], str] | None = None,
    ) -> Execution:
        """What an execute request already sent (`client.execute`) produces, to its reply."""
        deadline = time.monotonic() + timeout
        outputs: list[tuple[str, dict[str, Any]]] = []
        updates: list[dict[str, Any]] = []
        prompts: list[str] = []
        clear_next = False  # a clear_output(wait=True): the outputs go at the next one, as a front end does
        while True:
            if answer is not None:
                msg = self._next_with_stdin(deadline, code, answer, updates, prompts)
                if msg is None:
                    continue
            else:
                msg = self.client.get_iopub_msg(timeout=_left(deadline, code))
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "status" and content["execution_state"] == "idle":
                break
            if kind == "clear_output":
                clear_next = bool(content.get("wait"))
                if not clear_next:
                    outputs.clear()
            elif kind in ("stream", "display_data", "execute_result", "error"):
                if clear_next:
                    outputs.clear()
                    clear_next = False
                outputs.append((kind, {**content, "metadata": content.get("metadata", {})}))
                if on_output is not None:
                    on_output(kind, content)
            elif kind == "update_display_data":
                updates.append(content)
        while True:
            reply = self.client.get_shell_msg(timeout=_left(deadline, code))
            if reply["parent_header"].get("msg_id") == msg_id:
                return Execution(outputs, reply["content"], updates, prompts)

    def _next_with_stdin(self, deadline: float, code: str, answer: Callable[[str, list[dict[str, Any]]], str],
                         updates: list[dict[str, Any]], prompts: list[str]) -> dict[str, Any] | None:
        """The next iopub message, answering input requests while waiting for it (None: none yet)."""
        import queue

        _left(deadline, code)
        try:
            request = self.client.get_stdin_msg(timeout=0.02)
        except queue.Empty:
            pass
        else:
            prompt = request["content"]["prompt"]
            prompts.append(prompt)
            self.client.input(answer(prompt, list(updates)))
        try:
            return self.client.get_iopub_msg(timeout=0.02)
        except queue.Empty:
            return None

    def run(self, code: str, **kwargs: Any) -> Execution:
        """Run a cell that must succeed."""
        execution = self.execute(code, **kwargs)
        assert execution.reply["status"] == "ok", execution.all_text
        return execution

    def shutdown(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=False)

    def __enter__(self) -> Kernel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()


def _left(deadline: float, code: str) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError(f"the kernel did not finish this cell in time:\n{code}")
    return left


def children_of(root: int) -> dict[int, str]:
    """Descendants of `root` whose command line carries one of CHILD_MARKS, with start times."""
    return {pid: start_time(pid) or "" for pid in descendants(root) if any(mark in cmdline(pid) for mark in CHILD_MARKS)}
