"""The kernel's end of the apps' channel: a comm (`codemode.apps`) the JupyterLab renderer
opens to relay an MCP App's `tools/call` to the cell's session (`Session.app_call`).

Messages from the front end:
- `{"method": "tools/call", "id", "server", "html", "name", "arguments", "via"}`, `html` the
  asking app's page as the frame runs it: its digest, taken here, must be a page the session
  read (a saved notebook's metadata could pair a known digest with other HTML): answered with
  `{"id", "result"}` (the MCP result, wire form) or `{"id", "error": {"code", "message"}}`, and a
  `{"id", "call"}` with the call's record (`ToolCall.payload()` and its approval) before it.
- `{"method": "resources/read", "id", "server", "html", "uri", "via"}`: a resource of the app's
  own server, answered as a call is (`result` or `error`).
- `{"method": "approval/answer", "ask", "answer": "once" | "deny"}`: a person's answer to a
  question this side sent as `{"method": "approval/ask", "ask", "id", "text"}`.

A call runs on a thread of its own: the kernel's shell thread must stay free to receive the
person's answer (it arrives as another comm message while the call waits for it).
"""

from __future__ import annotations

import itertools
import logging
import threading
from typing import TYPE_CHECKING, Any

from codemode.trust.approval import Answer

if TYPE_CHECKING:
    from codemode.trust.approval import ApprovalRequest

logger = logging.getLogger(__name__)

TARGET = "codemode.apps"
BY = "a person (notebook app)"


def register(magics: Any) -> None:
    """Listen for the renderer's comm on this kernel; a no-op outside a kernel."""
    try:
        from comm import get_comm_manager
    except ImportError:
        return
    manager = get_comm_manager()
    if manager is None or not hasattr(manager, "register_target"):
        return
    def opened(comm: Any, message: dict[str, Any]) -> None:
        _Channel(comm, magics)  # kept alive by the comm's message handler

    manager.register_target(TARGET, opened)


class _Channel:
    """One front end's comm: its app calls and their approval questions."""

    def __init__(self, comm: Any, magics: Any) -> None:
        self.comm = comm
        self.magics = magics
        self._asks: dict[int, tuple[threading.Event, list[str]]] = {}
        self._numbers = itertools.count(1)
        comm.on_msg(self._receive)

    def _receive(self, message: dict[str, Any]) -> None:
        data = (message.get("content") or {}).get("data") or {}
        if data.get("method") == "tools/call":
            threading.Thread(target=self._call, args=(data,), name="codemode-app-call", daemon=True).start()
        elif data.get("method") == "resources/read":
            threading.Thread(target=self._read, args=(data,), name="codemode-app-read", daemon=True).start()
        elif data.get("method") == "approval/answer":
            waiting = self._asks.get(int(data.get("ask") or 0))
            if waiting is not None:
                waiting[1].append(str(data.get("answer")))
                waiting[0].set()

    def _call(self, data: dict[str, Any]) -> None:
        request_id = data.get("id")
        try:
            arguments = data.get("arguments") if isinstance(data.get("arguments"), dict) else {}
            via = data.get("via") if isinstance(data.get("via"), int) else None
            call, result = self.magics.session.app_call(str(data.get("server")), str(data.get("name")), arguments,
                                                        digest=_digest(data.get("html")), via=via,
                                                        approver=_Asker(self, request_id))
            self.comm.send({"id": request_id, "call": call.payload()})
            if result is not None:
                self.comm.send({"id": request_id, "result": result})
            else:
                self.comm.send({"id": request_id, "error": {"code": call.error_code, "message": call.error}})
        except Exception as exc:  # noqa: BLE001 - boundary: the app hears why, the kernel goes on
            logger.exception("codemode: an app's call failed")
            self.comm.send({"id": request_id, "error": {"code": "INTERNAL", "message": f"{type(exc).__name__}: {exc}"}})

    def _read(self, data: dict[str, Any]) -> None:
        request_id = data.get("id")
        try:
            via = data.get("via") if isinstance(data.get("via"), int) else None
            result, problem = self.magics.session.app_read(str(data.get("server")), str(data.get("uri")),
                                                           digest=_digest(data.get("html")), via=via)
            if result is not None:
                self.comm.send({"id": request_id, "result": result})
            else:
                self.comm.send({"id": request_id, "error": {"code": "NOT_FOR_APPS", "message": problem}})
        except Exception as exc:  # noqa: BLE001 - boundary: the app hears why, the kernel goes on
            logger.exception("codemode: an app's resource read failed")
            self.comm.send({"id": request_id, "error": {"code": "INTERNAL", "message": f"{type(exc).__name__}: {exc}"}})

    def ask(self, request_id: Any, request: ApprovalRequest, timeout: float) -> Answer:
        number = next(self._numbers)
        answered = threading.Event()
        answers: list[str] = []
        self._asks[number] = (answered, answers)
        try:
            self.comm.send({"method": "approval/ask", "ask": number, "id": request_id, "text": request.describe(),
                            "timeout": timeout})
            if not answered.wait(timeout):
                return Answer.nobody(f"no answer within {timeout:g} s")
        finally:
            self._asks.pop(number, None)
        return Answer("once", BY) if answers and answers[0] == "once" else Answer("deny", BY)


def _digest(html: object) -> str:
    import hashlib

    return hashlib.sha256(str(html).encode("utf-8", errors="surrogatepass")).hexdigest() if isinstance(html, str) else ""


class _Asker:
    """The approver of one app call: asks in the notebook, under the app."""

    by = BY

    def __init__(self, channel: _Channel, request_id: Any) -> None:
        self.channel = channel
        self.request_id = request_id

    def ask(self, request: ApprovalRequest, timeout: float) -> Answer:
        return self.channel.ask(self.request_id, request, timeout)
