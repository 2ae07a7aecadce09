"""How a failed cell is described to the host: its error, a traceback as a notebook shows it.

Part of the worker: standard library only, and `traceback` (and `re`) imported the first
time a cell fails. The traceback leaves out our own frames and the standard library's, and
names each cell as IPython does (`Cell In[9], line 2`) when the host gave it a label. An
`AttributeError` on a name that held a server before a cell set it to something else (`import
time` over the `time` server) says where the server still is: `codemode.servers["time"]`.
"""

from __future__ import annotations

TYPE_CHECKING = False  # importing `typing` costs worker start-up
if TYPE_CHECKING:
    from typing import Any

from codemode.sandbox import _api
from codemode.shared.words import a_or_an


def describe_safely(exc: BaseException, own_files: frozenset[str], labels: dict[str, str],
                    namespace: dict[str, Any]) -> dict[str, Any]:
    """`_describe`, or a bare description when the cell left nothing to format with (no free
    file descriptor to import `traceback`, no memory): the report matters more than its lines."""
    try:
        return _describe(exc, own_files, labels, namespace)
    except Exception as failure:  # noqa: BLE001 - boundary: the worker must answer `done`
        error = {"type": type(exc).__name__, "message": _safe_str(exc),
                 "traceback": f"(no traceback: formatting it failed with {type(failure).__name__})\n"}
        if isinstance(exc, MemoryError):
            error.update(code="MEMORY", message=error["message"] or MEMORY_MESSAGE)
        return error


MEMORY_MESSAGE = "an allocation went past the worker's memory limit (raise it with --memory or memoryMb)"


def shadowed(namespace: dict[str, Any]) -> dict[str, str]:
    """Server names a cell's variable now holds, each with what it holds (`module`, `int`)."""
    return {name: type(namespace[name]).__name__ for name, server in _api.servers.items()
            if name in namespace and namespace[name] is not server}


def _name_the_server(exc: BaseException, namespace: dict[str, Any]) -> str | None:
    """`time.get_current_time()` after `import time`: the error names the server's own way in."""
    if not isinstance(exc, AttributeError) or not isinstance(getattr(exc, "name", None), str):
        return None
    for name, server in _api.servers.items():
        held = namespace.get(name)
        if held is not None and held is not server and held is getattr(exc, "obj", None) and exc.name in dir(server):
            hint = (f"{name!r} is {a_or_an(type(held).__name__)} now, not the {name} server (a cell set it); "
                    f"the server is still there: codemode.servers[{name!r}].{exc.name}(...)")
            exc.add_note(hint)  # the traceback's last line
            return hint
    return None


def _describe(exc: BaseException, own_files: frozenset[str], labels: dict[str, str],
              namespace: dict[str, Any]) -> dict[str, Any]:
    import errno  # built in: no file to read
    import traceback

    hint = _name_the_server(exc, namespace)

    info = traceback.TracebackException.from_exception(exc)
    _hide_own_frames(info, own_files)
    error: dict[str, Any] = {
        "type": type(exc).__name__,
        "message": exc.message if isinstance(exc, _api.ToolError) else _safe_str(exc) + (f"; {hint}" if hint else ""),
        "traceback": _label_cells("".join(info.format()), labels),
    }
    if isinstance(exc, _api.ToolError):
        error.update(code=exc.code, server=exc.server, tool=exc.tool)
    elif isinstance(exc, MemoryError):
        error["code"] = "MEMORY"  # the worker's memory limit (RLIMIT_DATA) refused an allocation
        error["message"] = error["message"] or MEMORY_MESSAGE
    elif isinstance(exc, OSError) and exc.errno in (errno.EFBIG, errno.ENOSPC, errno.EDQUOT):
        # RLIMIT_FSIZE (one file past the work dir's bound), or the work dir's own tmpfs full
        error["code"] = "DISK"
    return error


def _is_stdlib(filename: str) -> bool:
    """A file of the standard library (`json/decoder.py`), not of an installed package: its
    frames say nothing the error message does not, so a cell's traceback leaves them out."""
    import os

    stdlib = os.path.dirname(os.__file__) + os.sep
    return filename.startswith(stdlib) and os.sep + "site-packages" + os.sep not in filename[len(stdlib) - 1:]


def _hide_own_frames(info: Any, own_files: frozenset[str]) -> None:
    import traceback

    seen: set[int] = set()
    while info is not None and id(info) not in seen:
        seen.add(id(info))
        frames = [frame for frame in info.stack if frame.filename not in own_files and not _is_stdlib(frame.filename)]
        # The cell is the top of the story: drop the machinery that called it (asyncio).
        # No cell frame at all (a SyntaxError from compiling it): every frame is machinery.
        first_cell = next((i for i, f in enumerate(frames) if f.filename.startswith("<cell")), len(frames))
        frames = frames[first_cell:]
        info.stack = traceback.StackSummary.from_list(frames)
        info = info.__cause__ or info.__context__


def _label_cells(text: str, labels: dict[str, str]) -> str:
    """`File "<cell 4>", line 2, in <module>` as IPython names a notebook's cell: `Cell In[9], line 2`."""
    if not labels:
        return text
    import re

    def named(match: Any) -> str:
        label = labels.get(match.group(1))
        if label is None:
            return str(match.group(0))
        where = "" if match.group(3) in (None, "<module>") else f", in {match.group(3)}"
        return f"Cell {label}, line {match.group(2)}{where}"

    return re.sub(r'File "(<cell \d+>)", line (\d+)(?:, in (.+))?', named, text)


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # noqa: BLE001
        return f"<{type(exc).__name__}; str() failed>"
