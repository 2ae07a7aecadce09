"""The sandbox worker: runs cells in a persistent namespace and sends tool calls to the host.

Started by the host as `python -I -S -c <bootstrap> RFD WFD`: it reads frames from fd RFD and
writes frames to fd WFD (a private pipe pair; stdin is /dev/null, fds 1 and 2 are pipes the
host drains as raw output). Invariants:

- Standard library only, and as little of it as possible at start-up: `asyncio` is imported
  the first time a cell uses `await`, `traceback` the first time a cell fails.
- Every frame is written whole. A SIGINT (the host's interrupt) that lands while a frame is
  being written or a read is being consumed is deferred until that is done, so the channel
  never carries half a frame; a SIGINT while waiting on a tool result interrupts the wait.
- One cell at a time. Tool calls are numbered; a result for a call the cell gave up on
  (interrupted, cancelled) is dropped.
"""

from __future__ import annotations

import ast
import json
import os
import signal
import sys
import time
from types import CodeType, ModuleType

TYPE_CHECKING = False  # importing `typing` costs ~10 ms of worker start-up
if TYPE_CHECKING:
    from typing import Any

from codemode.sandbox import (
    _api,
    _channel,
    _display,
    _errors,
    _lifeline,
    _limits,
    _reserve,
    _threads,
)
from codemode.sandbox._channel import (
    Channel,
    StreamWriter,
    _flush_streams,
    _flusher,
    _interrupts,
)
from codemode.sandbox._frames import MAX_DEPTH, FrameError, encode
from codemode.schema import _fit
from codemode.shared.depth import nests_deeper

_fit.BACKTRACKING_OK = True  # a schema pattern's time here is the cell's own, under its timeout
_CO_COROUTINE = 0x0080
_RESULT_NAME = "__codemode_result__"
_RESULT_LEVELS = MAX_DEPTH - 2  # a done frame holds the result's value two levels down
# Our own files, hidden from the tracebacks a cell shows.
_OWN_FILES = frozenset({__file__, _api.__file__, _channel.__file__, _errors.__file__})


class Worker:
    """The cell loop: compile, run, report, repeat."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__,
                                          "codemode": sys.modules["codemode"], "ToolError": _api.ToolError}
        self._loop: Any = None
        self._confined = False
        self.labels: dict[str, str] = {}  # a cell's file name -> what its tracebacks call it

    def setup(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        """Install the servers; the first time, confine the worker. Returns the layers applied."""
        for path in reversed(message.get("sys_path") or []):
            if isinstance(path, str) and path not in sys.path:
                sys.path.append(path)
        rows: list[dict[str, Any]] = []
        if not self._confined and isinstance(message.get("confine"), dict):
            from codemode.sandbox._confine import confine

            rows = confine(message["confine"], (self.channel._rfd, self.channel._wfd))
            self._confined = True
        _flusher.start()  # after confine: a thread inherits the Landlock domain it is started in
        _api.servers.clear()
        for key, server in (message.get("servers") or {}).items():
            tools = [_api.Tool(key, spec) for spec in server.get("tools", [])]
            proxy = _api.Server(key, server.get("name", key), tools, server.get("description", ""),
                                unavailable=str(server.get("unavailable") or ""),
                                uncallable=server.get("uncallable") or {})
            _api.servers[key] = proxy
            self.namespace[key] = proxy
        return rows

    def names(self, text: str = "") -> list[str]:
        """Completions of `text` for the kernel: the cells' public global names, or with a
        dot, the attributes of a dotted name (`orders.app` → `orders.append`)."""
        if "." not in text:
            return sorted(name for name in self.namespace if isinstance(name, str) and not name.startswith("_"))
        import rlcompleter

        try:
            found = rlcompleter.Completer(self.namespace).attr_matches(text)
        except Exception:  # noqa: BLE001 - a property that raises must not break the worker
            return []
        return sorted({match.rstrip("(") for match in found if not match.rsplit(".", 1)[-1].startswith("_")})

    def run(self, message: dict[str, Any]) -> None:
        cell_id = message.get("id")
        filename = f"<cell {cell_id}>"
        if isinstance(message.get("label"), str):  # `In[9]`: tracebacks say `Cell In[9], line 2`
            self.labels[filename] = message["label"]
        reply: dict[str, Any] = {"op": "done", "id": cell_id, "ok": True, "result": None}
        shadowed = _errors.shadowed(self.namespace)
        inputs = message.get("inputs")
        if isinstance(inputs, dict):  # JSON data the host checked: the run's input variables
            self.namespace.update(inputs)
        try:
            value = self._execute(str(message.get("code", "")), filename)
        except BaseException as exc:  # noqa: BLE001 - the cell's own failure is the report
            if isinstance(exc, MemoryError):
                _reserve.release()  # the report needs room the cell's data may still hold
            if isinstance(exc, SystemExit) and exc.code in (None, 0):
                value = None
            else:
                reply.update(ok=False, error=_errors.describe_safely(exc, _OWN_FILES, self.labels, self.namespace))
                value = None
        _show_open_figures(value)
        with _interrupts:  # the cell is over: its threads stop now (CPU only inside a cell)
            threads = _threads.stop_leftovers()
        if threads is not None:
            reply["threads"] = threads
        now_shadowed = _errors.shadowed(self.namespace)
        if now_shadowed.keys() - shadowed.keys():  # this cell's names hide servers: the report says so
            reply["shadowed"] = {name: kind for name, kind in now_shadowed.items() if name not in shadowed}
        reply["result"] = _encode_result(value)
        _flush_streams()  # after the result: its note, if any, comes first
        try:
            self.channel.send(reply)
        except (TypeError, ValueError):
            reply["result"] = {"kind": "repr", "text": _safe_repr(value), "type": type(value).__name__}
            self.channel.send(reply)
        _reserve.refill()

    def _execute(self, source: str, filename: str) -> Any:
        code = _compile(source, filename)
        self.namespace.pop(_RESULT_NAME, None)
        try:
            _interrupts.open()
            if code.co_flags & _CO_COROUTINE:
                self._event_loop().run_until_complete(eval(code, self.namespace))
            else:
                exec(code, self.namespace)
        finally:
            _interrupts.depth = 1  # not a call, so no interrupt can land before it
        return self.namespace.pop(_RESULT_NAME, None)

    def _event_loop(self) -> Any:
        if self._loop is None:
            import asyncio

            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
        return self._loop


_COMPILED: dict[str, CodeType] = {}  # source → code, for cells run again (a notebook re-run)
_COMPILED_MAX = 64


def _compile(source: str, filename: str) -> CodeType:
    """Compile a cell; its last expression statement becomes the cell's result."""
    import linecache

    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    cached = _COMPILED.get(source)
    if cached is not None:
        return cached.replace(co_filename=filename)
    tree = ast.parse(source, filename, "exec")
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = tree.body[-1]
        target = ast.Name(id=_RESULT_NAME, ctx=ast.Store())
        tree.body[-1] = ast.copy_location(ast.Assign(targets=[target], value=last.value), last)
        ast.fix_missing_locations(tree)
    code = compile(tree, filename, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    # Only code with no functions, lambdas or comprehensions in it: theirs would keep the
    # first run's file name, and a traceback through them would name the wrong cell.
    if not any(isinstance(const, CodeType) for const in code.co_consts):
        if len(_COMPILED) >= _COMPILED_MAX:
            del _COMPILED[next(iter(_COMPILED))]
        _COMPILED[source] = code
    return code


def _encode_result(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    media = _api.encode_media(value)
    if media is not None:
        return media
    if _display.has_rich_repr(value):
        data, metadata = _display.mimebundle(value)
        if set(data) != {"text/plain"}:  # a pandas Series' _repr_latex_ returns None: plain text
            return {"kind": "mime", "data": data, "metadata": metadata}
        return {"kind": "repr", "text": data["text/plain"], "type": type(value).__name__}
    try:
        encode({"op": "done", "value": value})
    except (TypeError, ValueError, RecursionError):
        return {"kind": "repr", "text": _safe_repr(value), "type": type(value).__name__}
    if nests_deeper(value, _RESULT_LEVELS):  # a frame would be refused: degrade, never die
        print(f"codemode: the result nests deeper than {_RESULT_LEVELS} levels, more than a frame carries; "
              "it is shown as its repr", file=sys.stderr)
        return {"kind": "repr", "text": _safe_repr(value), "type": type(value).__name__}
    return {"kind": "json", "value": value}


def _show_open_figures(result: Any) -> None:
    """As IPython's inline backend: figures a cell drew show at its end (the result's own
    figure shows as the result), then close."""
    try:
        _display.show_figures(_display.open_figures(result))
        _display.close_figures()
    except Exception as exc:  # noqa: BLE001 - a figure that fails to draw must not lose the cell's report
        print(f"codemode: a figure could not be shown: {type(exc).__name__}: {exc}", file=sys.stderr)


def _send_display(channel: Channel, message: dict[str, Any]) -> None:
    """Send a display output after what the cell printed before it (order is kept)."""
    _flush_streams()
    try:
        channel.send(message)
    except FrameError:
        # Over the channel's limit: the text form only, marked so the host counts the loss.
        text = str(message["data"].get("text/plain", ""))[:100_000]
        channel.send({**message, "data": {"text/plain": text}, "metadata": {}, "truncated": True})


def _safe_repr(value: Any, limit: int = 100_000) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # noqa: BLE001 - a broken __repr__ must not break the report
        text = f"<{type(value).__name__} object; repr() failed: {exc!r}>"
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more characters]"


def _install_api_module() -> None:
    module = ModuleType("codemode", "The API that sandboxed cell code sees: ToolError and the servers.")
    for name in _api.__all__:
        setattr(module, name, getattr(_api, name))
    sys.modules["codemode"] = module
    import builtins

    setattr(builtins, "help", _api.help)
    setattr(builtins, "display", _display.display)  # as IPython puts it in builtins


def _low_fd(fd: int) -> int:
    """`fd` moved to the lowest free descriptor when it is a high one (the others are closed)."""
    if fd < 64:
        return fd
    low = os.dup(fd)
    os.close(fd)
    return low


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    # Numbered low: a host with many descriptors open (`codemode serve` with many clients)
    # passes high ones, past select()'s FD_SETSIZE and the worker's own RLIMIT_NOFILE.
    rfd, wfd = _low_fd(int(args[0])), _low_fd(int(args[1]))
    # Before anything else, and before any thread: the worker must end with its host.
    _lifeline.die_with_host()
    _lifeline.start_guard(rfd)
    # Limits first: before the worker reads a frame, let alone runs a cell.
    isolation = _limits.apply(json.loads(args[2])) if len(args) > 2 else []
    _reserve.refill()
    channel = Channel(rfd, wfd)
    _api._channel = channel
    _display._send = lambda message: _send_display(channel, message)
    sys.meta_path.insert(0, _display.IPythonDisplayHook())
    # matplotlib (if a cell imports it) draws with Agg and shows figures as outputs; its
    # cache goes in the work dir (the only writable place), not a warning per cell.
    os.environ.setdefault("MPLBACKEND", "module://codemode.sandbox._mpl_backend")
    os.environ.setdefault("MPLCONFIGDIR", os.path.join(os.getcwd(), ".matplotlib"))
    signal.signal(signal.SIGINT, _interrupts.handler)
    sys.stdout = StreamWriter(channel, "stdout", 1)
    sys.stderr = StreamWriter(channel, "stderr", 2)
    _install_api_module()
    worker = Worker(channel)
    channel.send({"op": "ready", "pid": os.getpid(), "python": sys.version.split()[0], "isolation": isolation})
    while True:
        try:
            message = channel.recv()
        except KeyboardInterrupt:
            continue  # an interrupt that arrived between cells has nothing to stop
        except (EOFError, FrameError, OSError):
            return
        _interrupts.deferred = False  # it came while waiting: nothing to stop
        op = message["op"]
        try:
            if op == "exec":
                worker.run(message)
            elif op == "setup":
                channel.send({"op": "setup_done", "isolation": worker.setup(message)})
            elif op == "names":
                channel.send({"op": "names", "names": worker.names(str(message.get("text") or ""))})
            elif op == "shutdown":
                return
        except KeyboardInterrupt:
            # CPython can deliver an interrupt after the cell's own handler (gh-issue on
            # one-line loops in try); the worker loop survives it and reports the cell.
            channel.send({"op": "done", "id": message.get("id"), "ok": False, "result": None,
                          "error": {"type": "KeyboardInterrupt", "message": "", "traceback": "KeyboardInterrupt\n"}})
        except MemoryError:
            # The cell's report itself ran out of memory: a bare one, from what is left.
            _reserve.release()
            if op == "exec":
                channel.send({"op": "done", "id": message.get("id"), "ok": False, "result": None,
                              "error": {"type": "MemoryError", "code": "MEMORY", "message": _errors.MEMORY_MESSAGE,
                                        "traceback": "MemoryError\n"}})
