"""The notebook face: `%load_ext codemode`, `%codemode ...` and `%%codemode`.

A pipeline in the jupysql manner: parse the line (IPython's magic_arguments), act through
the one `Session`, show small display objects. User mistakes are `UsageError`s: one line,
no traceback of this module. A cell whose code fails raises `CellFailed`, which IPython
shows with the sandboxed code's own traceback (`_render_traceback_`), not ours.
"""

from __future__ import annotations

import dataclasses
import shlex
import sys
import threading
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from IPython.display import display
from traitlets import Float, Unicode, observe

from codemode.errors import CodemodeError
from codemode.notebook._cellviews import LiveCalls, Unattended, interactive, show_event

if TYPE_CHECKING:
    # Imported where used: `%load_ext codemode` must not pay for pydantic, the session and
    # the report (see `load_ipython_extension`, which warms them on a thread instead).
    from codemode.cassette import CassetteSettings
    from codemode.engine import Session
    from codemode.trace import RunReport

_SUBCOMMANDS = ("servers, tools [SERVER], search QUERY [--detail names|signatures|full], stubs [SERVER[.TOOL]], "
                "tokens, isolation, reset, config PATH, record PATH, replay PATH [--strict], live")


class CellFailed(Exception):
    """The sandboxed code raised; shown as its own traceback."""

    def __init__(self, report: RunReport) -> None:
        error = report.error or {}
        message = error.get("message", "")
        super().__init__(message)
        self.report = report

    @classmethod
    def of(cls, report: RunReport) -> CellFailed:
        """The error for a failed run, its class named as the sandboxed exception was.

        Jupyter reports an error's class name as `ename` (nbclient, nbconvert, the
        notebook's error output), so a failed `ToolError` call reads as `ToolError`.
        """
        kind = str((report.error or {}).get("type", "Error"))
        named = type(kind if kind.isidentifier() else "Error", (cls,), {"__module__": "codemode"})
        return named(report)

    def _render_traceback_(self) -> list[str]:
        error = self.report.error or {}
        kind = str(error.get("type", "Error"))
        lines = (error.get("traceback") or "").rstrip("\n").splitlines()
        # The worker's traceback names the exception itself (`codemode.ToolError: ...`, with
        # its module); add a line only when it does not (a timeout reported by the host).
        if not any(_names_exception(line, kind) for line in lines):
            code = f" [{error['code']}]" if error.get("code") and kind != "ToolError" else ""
            lines.append(f"{kind}: {error.get('message', '')}{code}")
        return lines


def _names_exception(line: str, kind: str) -> bool:
    """Whether a traceback line is the header of a `kind` exception (`[module.]kind[: message]`)."""
    head = line.split(":", 1)[0]
    return head == kind or head.endswith("." + kind)


@magics_class
class CodeModeMagics(Magics):
    """Code mode for MCP in IPython. `c.CodeModeMagics.config_file` and `.timeout` are settable."""

    config_file = Unicode("", help="An mcpServers JSON file; empty searches the usual places.").tag(config=True)
    timeout = Float(0.0, help="Default seconds a %%codemode cell may run; 0 uses the config's.").tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._session: Session | None = None
        self._cassette: CassetteSettings | None = None  # set by record / replay / live
        self._parsed: dict[str, Any] = {}  # magic line → its flags (read only: shared by the cells)
        self.face = "notebook"  # the codemode kernel says "kernel": the audit trail's name for it
        self.forget_catalog: Any = lambda: None  # set by the completion hooks (_hooks.install)
        self.uninstall_hooks: Any = lambda: None

    @property
    def session(self) -> Session:
        return self._started()

    def _started(self, code: str | None = None) -> Session:
        """The session, started; `code` is the cell about to run (see `Session.start`)."""
        if self._session is None:
            from codemode.config import load_config
            from codemode.engine import Session
            from codemode.trust.approvers import KernelApprover, TerminalApprover

            kernel = getattr(self.shell, "kernel", None)
            approver = KernelApprover(kernel) if kernel is not None else TerminalApprover()
            try:
                self._session = Session(load_config(self.config_file or None), cassette=self._cassette,
                                        face=self.face, approver=approver)
            except CodemodeError as exc:
                raise UsageError(str(exc)) from None
        if not self._session.started:
            try:
                self._session.start(code)
            except CodemodeError as exc:
                raise UsageError(str(exc)) from None
            except KeyboardInterrupt:
                # The start goes on in the background; the next cell waits for the same one.
                raise UsageError("interrupted while the servers connect; they go on connecting "
                                 "in the background: run the cell again") from None
            for name, problem in self._session.failed.items():  # once, with its own last words
                print(f"codemode: server {name!r} failed to start: {problem}", file=sys.stderr)
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    @line_magic("codemode")  # type: ignore[arg-type]  # IPython's decorator types accept no method
    def codemode_line(self, line: str) -> Any:
        """%codemode servers | tools [SERVER] | search QUERY [--detail D] | stubs [SERVER[.TOOL]] | tokens | isolation | reset"""
        words = shlex.split(line)
        if not words:
            raise UsageError(f"%codemode needs a subcommand: {_SUBCOMMANDS}")
        command, rest = words[0], words[1:]
        if command in ("config", "record", "replay", "live"):
            return self._switch(command, rest)
        if command not in _LOOKS:
            raise UsageError(f"%codemode {line.strip()!s}: unknown subcommand; use one of: {_SUBCOMMANDS}")
        session = self.session
        from codemode.notebook._display import (
            CodeText,
            IsolationTable,
            ServerTable,
            ToolList,
        )
        from codemode.trace import token_line

        try:
            if command == "servers" and not rest:
                return ServerTable.of(session)
            if command == "tools" and len(rest) <= 1:
                server = rest[0] if rest else None
                return ToolList(session.tools(server), unavailable=session.unavailable_tools(server))
            if command == "search" and rest:
                query, detail = _detail(rest)
                if detail == "signatures":
                    hits = session.search_hits(query)  # tools, and resources and prompts as their calls
                    tools = {(t.server, t.name): t for t in session.tools()}
                    return ToolList([tools[(h.server, h.name)] for h in hits if h.offer is None],
                                    others=[(h.call, h.note) for h in hits if h.offer is not None],
                                    empty=f"no tool matches {query!r}")
                return CodeText(session.search_text(query, detail) or f"no tool matches {query!r}")
            if command == "stubs" and len(rest) <= 1:
                return CodeText(session.stubs(rest[0] if rest else None))
            if command == "isolation" and not rest:
                return IsolationTable(session.isolation)
            if command == "tokens" and not rest:
                total = session.accountant.total
                return CodeText(token_line(total) if total is not None else "no runs yet")
            if command == "reset" and not rest:
                session.reset()
                print("codemode: a fresh worker is running; earlier variables are gone")
                return None
        except CodemodeError as exc:
            raise UsageError(str(exc)) from None
        raise UsageError(f"%codemode {line.strip()!s}: unknown subcommand or arguments; use one of: {_SUBCOMMANDS}")

    def _switch(self, command: str, rest: list[str]) -> None:
        """`config PATH`, `record PATH`, `replay PATH [--strict]`, `live`: a new session."""
        strict = "--strict" in rest and command == "replay"
        paths = [word for word in rest if word != "--strict" or command != "replay"]
        if len(paths) != (0 if command == "live" else 1):
            usage = {"config": "config PATH", "record": "record PATH", "replay": "replay PATH [--strict]", "live": "live"}
            raise UsageError(f"usage: %codemode {usage[command]}")
        if command == "config":
            self._quiet = True  # the restart below says it once
            try:
                self.config_file = paths[0]
            finally:
                self._quiet = False
            self._restart(paths[0])
            return
        from codemode.notebook._switch import cassette_for_line

        settings, saying = cassette_for_line(command, paths[0] if paths else None, strict, " ".join([command, *rest]))
        self._cassette = settings
        self.close()
        print(f"codemode: {saying(self.session.cassette)}; servers restarted, a fresh worker (earlier variables are gone)")

    @observe("config_file")
    def _config_file_changed(self, change: Any) -> None:
        if self._session is not None and not self._quiet:  # before any session, the next one reads it
            self._restart(change["new"])

    _quiet = False

    def _restart(self, named: str) -> None:
        """A session on the config `named` (as the user wrote it: a saved notebook shows the
        same line on every machine, in replay or live), said in one line."""
        self.close()
        session = self.session
        servers = ", ".join(session.python_name(name) if state.status in ("connected", "idle") else f"{name} ({state.status})"
                            for name, state in session.servers.items()) or "none"
        print(f"codemode: config {named or 'the usual places'}: servers {servers}; a fresh worker "
              "(earlier variables are gone)")

    @magic_arguments()
    @argument("--timeout", type=float, default=None, help="Seconds the cell may run before it is interrupted.")
    @argument("--servers", default=None, help="Comma-separated servers the cell may call (default: all).")
    @argument("--max-tool-calls", type=int, default=None, help="The most tool calls the cell may make.")
    @argument("--max-output", type=int, default=None,
              help="Characters of output kept; past it the middle is dropped (OUTPUT_TRUNCATED).")
    @argument("--tools", default=None, help="Comma-separated `server.tool` patterns the cell may call (wildcards).")
    @argument("--memory", default=None, help="Heap the worker may use: 512M, 2G, or none.")
    @argument("--disk", default=None, help="Total size of the work dir: 512M, 2G, or none.")
    @argument("--allow-subprocess", action="store_true", help="Let the cell start processes.")
    @argument("--workdir", default=None, help="A directory to use as the worker's read-write work dir.")
    @argument("--allow-read", action="append", default=[], metavar="PATH",
              help="An extra path the worker may read (repeatable).")
    @argument("--require", default=None, help="Comma-separated layers that must be active: landlock,seccomp.")
    @argument("--out", default=None, help="Bind the cell's result (when it is JSON data) to this name.")
    @argument("--approve", default=None, metavar="PATTERNS",
              help="Comma-separated `server.tool` patterns pre-approved for this cell (no question asked).")
    @argument("--in", dest="inputs", default=None, metavar="NAMES",
              help="Comma-separated kernel variables (JSON data) to make variables of the cell.")
    @cell_magic("codemode")  # type: ignore[arg-type]  # as for codemode_line
    def codemode_cell(self, line: str, cell: str) -> None:
        """Run the cell in the sandboxed worker, with the MCP servers' tools as Python objects.

        Options that change the worker (--memory, --disk, --allow-subprocess, --workdir, --allow-read,
        --require) run the cell in a worker that has them: a fresh one when the running worker
        differs, so the earlier cells' variables are gone (the cell says so).
        """
        args = self._flags(line)
        self.forget_catalog()  # the cell can change the worker's names
        servers = _split(args.servers)
        timeout = args.timeout or self.timeout or None
        inputs = self._inputs(_split(args.inputs) or [])
        session = self._started(cell if servers is None else None)
        live = LiveCalls(cell) if interactive(self.shell) else None
        held = Unattended() if live is None and getattr(self.shell, "kernel", None) is not None else None
        try:
            sandbox = session.sandbox_options.with_flags(
                memory=args.memory, allow_subprocess=args.allow_subprocess, workdir=args.workdir,
                allow_read=args.allow_read, require=args.require, disk=args.disk)
            report = session.run(cell, timeout=timeout, servers=servers, max_tool_calls=args.max_tool_calls,
                                 max_output=args.max_output, tools=_split(args.tools), sandbox=sandbox,
                                 on_event=live.on_event if live is not None else held.on_event if held else show_event,
                                 inputs=inputs, approve=_split(args.approve), label=self._label())
        except CodemodeError as exc:
            raise UsageError(str(exc)) from None
        except BaseException:
            if live is not None:
                live.close()
            if held is not None:
                held.finish(None)
            raise
        if held is not None:
            held.finish(report)
        if live is not None:
            live.settle(more=report.worker_restarted)
        if report.worker_restarted:
            print(f"codemode: this cell runs in a fresh worker ({report.restart_reason or 'the previous one stopped'}); "
                  "variables of earlier cells are gone", file=sys.stderr)
        if args.out is not None:
            self._bind(args.out, report)
        from codemode.outputs import result_bundle

        bundle = result_bundle(report.result) if report.error is None else None
        lost = report.outputs_refused or report.displays_truncated or (report.error is None and report.output_dropped)
        if bundle is not None and not (report.calls or lost):
            # A call-free cell's table or figure is an ordinary output, as IPython shows it:
            # every front end (Notebook 7, VS Code, nbconvert, GitHub) draws it.
            display(bundle[0], metadata=bundle[1], raw=True)
        elif report.calls or lost or report.notices or (report.error is None and report.result is not None):
            # The streams were printed as they came: the report leaves them out; an error
            # is the traceback below.
            shown = dataclasses.replace(report, streams_shown=True, error=None)
            if live is None or not live.become(shown):
                display(shown)
        if report.error is not None:
            raise CellFailed.of(dataclasses.replace(report, streams_shown=True))

    def _label(self) -> str | None:
        """`In[9]`, as IPython calls the running cell in its tracebacks."""
        running = getattr(getattr(self.shell, "displayhook", None), "exec_result", None)
        count = getattr(running, "execution_count", None)  # the shell's own is the next cell's by now
        return f"In[{count}]" if isinstance(count, int) else None

    def _user_ns(self) -> dict[str, Any]:
        assert self.shell is not None  # a registered Magics has its shell
        namespace: dict[str, Any] = self.shell.user_ns
        return namespace

    def _flags(self, line: str) -> Any:
        """The cell's flags, parsed once per distinct magic line (a notebook reruns the same few)."""
        args = self._parsed.get(line)
        if args is None:
            try:
                # As a shell splits them: IPython's own `parse_argstring` keeps the quotes
                # (`--tools 'demo.get_*'` would allow a tool named `'demo.get_*'`, so none).
                words = shlex.split(line)
            except ValueError as exc:
                raise UsageError(f"%%codemode {line.strip()}: {exc}; quote each value whole, as in a shell") from None
            args = self.codemode_cell.parser.parse_args(words)
            if args.timeout is not None and args.timeout <= 0:
                raise UsageError(f"--timeout must be a positive number of seconds, not {args.timeout:g}")
            if args.max_output is not None and args.max_output <= 0:
                raise UsageError(f"--max-output must be a positive number of characters, not {args.max_output}")
            if args.out is not None and not args.out.isidentifier():
                raise UsageError(f"--out needs a Python name, not {args.out!r}")
            if len(self._parsed) >= 64:
                self._parsed.clear()
            self._parsed[line] = args
        return args

    def _inputs(self, names: list[str]) -> dict[str, Any]:
        namespace = self._user_ns()
        missing = [name for name in names if name not in namespace]
        if missing:
            raise UsageError(f"--in {missing[0]}: no such variable in the kernel; define it in a Python cell first")
        return {name: namespace[name] for name in names}

    def _bind(self, name: str, report: RunReport) -> None:
        if report.value_is_json:
            self._user_ns()[name] = report.value
        elif report.result is not None:
            print(f"codemode: --out {name}: the result is not JSON data; nothing was bound", file=sys.stderr)


_LOOKS = ("servers", "tools", "search", "stubs", "isolation", "tokens", "reset")


def _detail(words: list[str]) -> tuple[str, str]:
    """Split `QUERY... [--detail D]` into the query and the detail level."""
    detail = "signatures"
    if "--detail" in words:
        at = words.index("--detail")
        if at + 1 >= len(words) or words[at + 1] not in ("names", "signatures", "full"):
            raise UsageError("--detail takes one of: names, signatures, full")
        detail = words[at + 1]
        words = words[:at] + words[at + 2 :]
    if not words:
        raise UsageError("%codemode search needs a query, e.g. %codemode search open orders")
    return " ".join(words), detail


def _split(value: str | None) -> list[str] | None:
    return [part.strip() for part in value.split(",") if part.strip()] if value else None


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magics(CodeModeMagics)
    from codemode.notebook._appcomm import register
    from codemode.notebook._hooks import install

    magics = ipython.magics_manager.registry["CodeModeMagics"]
    register(magics)  # MCP Apps' calls, from the renderer
    magics.uninstall_hooks = install(ipython, magics)  # Tab and Shift-Tab in %%codemode cells
    # The session's modules (pydantic, the report, the sandbox driver: most of a second) load
    # on a thread while the person writes the first cell, which then finds them loaded.
    threading.Thread(target=_warm_imports, name="codemode-warm-imports", daemon=True).start()


def _warm_imports() -> None:
    try:
        import codemode.notebook._display  # noqa: F401 - the session, config, trace and outputs with it
        from codemode.tokens.metrics import default_tokenizer

        # The o200k tables (0.07-0.13 s, holding the GIL for most of it): the first cell's
        # token account needs them, and its start is busy enough.
        default_tokenizer()
    except Exception:  # noqa: BLE001 - best effort: the first cell does it all itself
        pass


def unload_ipython_extension(ipython: Any) -> None:
    magics = ipython.magics_manager.registry.get("CodeModeMagics")
    if isinstance(magics, CodeModeMagics):
        magics.uninstall_hooks()
        magics.close()
