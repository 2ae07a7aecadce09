"""The faces' approvers: how each face asks a person to approve a call (`codemode.trust.approval`).

- `KernelApprover` (the magic and the codemode kernel): an input request on the kernel's
  stdin channel, which JupyterLab shows as an input box, answered `y` (this call), `a` (this
  tool for the rest of the session) or `n`. A front end that takes no input (nbclient and
  nbval run with `allow_stdin` off) means nobody can be asked.
- `TerminalApprover` (the CLI, IPython in a terminal): the same question on the controlling
  terminal (`/dev/tty`) when stdin is a terminal; nobody can be asked otherwise (a pipe, CI).
- `ElicitationApprover` (`codemode serve`): an MCP form elicitation to the client (allow once,
  allow for the session, deny); a client without the elicitation capability means nobody
  can be asked.

Each also answers a server's own questions (`elicit`, `codemode.trust.elicitation`): the
kernel and the terminal field by field, `codemode serve` by passing the question on to its
client; with nobody to ask, the question is declined.

Each is called on the thread that called `Session.run`, honours the timeout it is given,
and never raises for "nobody could be asked": it answers `Answer.nobody(why)`. Nothing here
is imported by `import codemode`; each approver imports its face's libraries when built.
"""

from __future__ import annotations

import concurrent.futures
import os
import select
import sys
import time
from typing import Any

from codemode.trust.approval import Answer, ApprovalRequest
from codemode.trust.elicitation import Question, Reply, ask_in_lines

__all__ = ["ElicitationApprover", "KernelApprover", "TerminalApprover", "elicitation_modes", "parse_answer"]

QUESTION = "Allow? y = this call, a = this tool for the session, n = no: "


def parse_answer(text: str | None, by: str) -> Answer:
    """A typed answer: `y`/`yes` once, `a`/`always` for the session, anything else is no."""
    word = (text or "").strip().lower()
    if word in ("y", "yes"):
        return Answer("once", by)
    if word in ("a", "all", "always"):
        return Answer("session", by)
    return Answer("deny", by)


class KernelApprover:
    """Asks through the kernel's stdin channel, as `input()` in a cell does, with a deadline.

    Args:
        kernel: the running ipykernel `Kernel` (`get_ipython().kernel`).
    """

    by = "a person (kernel stdin)"

    def __init__(self, kernel: Any) -> None:
        self.kernel = kernel

    def ask(self, request: ApprovalRequest, timeout: float) -> Answer:
        if not getattr(self.kernel, "_allow_stdin", False):
            return Answer.nobody("the front end takes no input (allow_stdin is off, as under "
                                 "nbclient and nbval)")
        print(request.describe(), flush=True)
        try:
            reply = self._input(f"{request.qualified}: {QUESTION}", timeout)
        except EOFError:
            return Answer("deny", self.by)
        if reply is None:
            return Answer("nobody", f"no answer within {timeout:g} s")
        return parse_answer(reply, self.by)

    def elicit(self, question: Question, timeout: float) -> Reply:
        """A server's question, field by field in input boxes; declined with nobody to ask."""
        if not getattr(self.kernel, "_allow_stdin", False):
            return Reply("decline", "nobody to ask (the front end takes no input)")
        deadline = time.monotonic() + timeout

        def read(prompt: str) -> str | None:
            try:
                return self._input(prompt, max(0.0, deadline - time.monotonic()))
            except EOFError:
                return None

        return ask_in_lines(question, lambda text: print(text, flush=True), read, self.by)

    def _input(self, prompt: str, timeout: float) -> str | None:
        """An input request with a deadline: ipykernel's own `raw_input` waits forever.

        The same steps as ipykernel's `_input_request` (purge stale replies, send the request
        with the cell's parent header, poll the stdin socket), bounded by `timeout`; None when
        it passes. Falls back to `raw_input` (no deadline) on a kernel without those parts.
        """
        kernel = self.kernel
        try:
            import zmq

            socket, session = kernel.stdin_socket, kernel.session
            ident = kernel._get_shell_context_var(kernel._shell_parent_ident)
            parent = kernel.get_parent("shell")
        except (ImportError, AttributeError):
            return str(kernel.raw_input(prompt))
        sys.stdout.flush()
        sys.stderr.flush()
        while True:  # a reply to an earlier request that timed out is stale
            try:
                socket.recv_multipart(zmq.NOBLOCK)
            except zmq.ZMQError as exc:
                if exc.errno == zmq.EAGAIN:
                    break
                raise
        session.send(socket, "input_request", {"prompt": prompt, "password": False}, parent, ident=ident)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            # Short polls, as ipykernel's: a KeyboardInterrupt (the kernel's interrupt) gets through.
            readable, _, failed = zmq.select([socket], [], [socket], min(left, 0.05))
            if readable or failed:
                _, reply = session.recv(socket)
                if reply is not None:
                    value = str((reply.get("content") or {}).get("value", ""))
                    if value == "\x04":
                        raise EOFError
                    return value
        return None


class TerminalApprover:
    """Asks on the controlling terminal, when stdin is one.

    Args:
        tty: the terminal device to prompt on (`/dev/tty`).
    """

    by = "a person (terminal)"

    def __init__(self, tty: str = "/dev/tty") -> None:
        self.tty = tty

    def ask(self, request: ApprovalRequest, timeout: float) -> Answer:
        if not (sys.stdin is not None and sys.stdin.isatty()):
            return Answer.nobody("stdin is not a terminal")
        try:
            fd = os.open(self.tty, os.O_RDWR | os.O_NOCTTY)
        except OSError as exc:
            return Answer.nobody(f"no terminal ({exc.strerror or exc})")
        try:
            os.write(fd, f"{request.describe()}\n{QUESTION}".encode())
            line = _read_line(fd, time.monotonic() + timeout)
            if line is None:
                os.write(fd, b"\n")
                return Answer("nobody", f"no answer within {timeout:g} s")
        finally:
            os.close(fd)
        if not line:
            return Answer("deny", self.by)  # end of input (Ctrl-D) is no
        return parse_answer(line, self.by)

    def elicit(self, question: Question, timeout: float) -> Reply:
        """A server's question, field by field on the terminal; declined with no terminal."""
        if not (sys.stdin is not None and sys.stdin.isatty()):
            return Reply("decline", "nobody to ask (stdin is not a terminal)")
        try:
            fd = os.open(self.tty, os.O_RDWR | os.O_NOCTTY)
        except OSError as exc:
            return Reply("decline", f"nobody to ask (no terminal: {exc.strerror or exc})")
        deadline = time.monotonic() + timeout

        def read(prompt: str) -> str | None:
            os.write(fd, prompt.encode())
            line = _read_line(fd, deadline)
            return None if not line else line.rstrip("\n")

        def say(text: str) -> None:
            os.write(fd, (text + "\n").encode())

        try:
            return ask_in_lines(question, say, read, self.by)
        finally:
            os.close(fd)


def _read_line(fd: int, deadline: float) -> str | None:
    """A line from a terminal descriptor ("" at end of input), or None when `deadline` passes."""
    data = b""
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        readable, _, _ = select.select([fd], [], [], left)
        if not readable:
            return None
        chunk = os.read(fd, 1024)
        if not chunk:
            break
        data += chunk
    return data.decode("utf-8", errors="replace")


# The form a client shows: one required choice. Primitive properties only, as form-mode
# elicitation requires; `oneOf` with titles is the spec's (2025-11-25) titled enum.
APPROVAL_FORM: dict[str, Any] = {
    "type": "object",
    "properties": {
        "decision": {
            "type": "string",
            "title": "Allow this call?",
            "oneOf": [
                {"const": "once", "title": "Allow once"},
                {"const": "session", "title": "Allow for the session"},
                {"const": "deny", "title": "Deny"},
            ],
        },
    },
    "required": ["decision"],
}


class ElicitationApprover:
    """Asks the MCP client of `codemode serve` with a form elicitation.

    Args:
        session: the SDK's `ServerSession` of the request that runs the code
            (`ctx.request_context.session`).
        loop: the event loop that session lives on; `ask` is called from another thread.
        related_request_id: the `execute` request's id, so the client ties the question to it.
    """

    by = "a person (MCP elicitation)"

    def __init__(self, session: Any, loop: Any, related_request_id: Any = None) -> None:
        self.session = session
        self.loop = loop
        self.related_request_id = related_request_id

    @property
    def capable(self) -> bool:
        """Whether the client declared form elicitation (an empty `elicitation` means form)."""
        return "form" in elicitation_modes(getattr(self.session, "client_capabilities", None))

    def ask(self, request: ApprovalRequest, timeout: float) -> Answer:
        import asyncio

        if not self.capable:
            return Answer.nobody("the MCP client did not declare the elicitation capability")
        coro = self.session.elicit_form(request.describe(), APPROVAL_FORM, self.related_request_id)
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            result = future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            return Answer("nobody", f"no answer within {timeout:g} s")
        except Exception as exc:  # the client answered the request with an error, or went away
            return Answer.nobody(f"the elicitation failed ({exc})")
        return elicited_answer(result.action, result.content, self.by)


    def elicit(self, question: Question, timeout: float) -> Reply:
        """A server's question, passed on to this client as an elicitation of the same mode."""
        import asyncio
        import uuid

        if question.mode not in elicitation_modes(getattr(self.session, "client_capabilities", None)):
            return Reply("decline", f"nobody to ask (the MCP client cannot answer a {question.mode} elicitation)")
        if question.mode == "url":
            coro = self.session.elicit_url(question.describe(), question.url or "", uuid.uuid4().hex,
                                           self.related_request_id)
        else:
            coro = self.session.elicit_form(question.describe(), question.schema, self.related_request_id)
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            result = future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            return Reply("cancel", f"no answer within {timeout:g} s")
        except Exception as exc:  # the client answered with an error, or went away
            return Reply("decline", f"nobody to ask (the elicitation failed: {exc})")
        return Reply(result.action, self.by, result.content if result.action == "accept" else None)


def elicitation_modes(capabilities: Any) -> frozenset[str]:
    """The elicitation modes a client declared (`form`, `url`) in its capabilities (the SDK's
    `ClientCapabilities`, or None): an empty `elicitation` capability means form, as the spec has it."""
    elicitation = getattr(capabilities, "elicitation", None)
    if elicitation is None:
        return frozenset()
    url = getattr(elicitation, "url", None) is not None
    form = getattr(elicitation, "form", None) is not None or not url
    return frozenset(mode for mode, on in (("form", form), ("url", url)) if on)


def elicited_answer(action: str, content: Any, by: str) -> Answer:
    """The answer in a client's reply to `APPROVAL_FORM`: `accept` with a decision, or a denial."""
    if action != "accept":
        return Answer("deny", f"{by}, {'declined' if action == 'decline' else 'cancelled'}")
    decision = (content or {}).get("decision") if isinstance(content, dict) else None
    if decision in ("once", "session"):
        return Answer(decision, by)
    return Answer("deny", by)
