"""`main`: parse, load the config, start one session, run the command, exit with a status.

Every command runs through the same `Session` (and so the same sandbox and policy) as a
notebook cell. Errors are one line, no traceback of our own code unless `--debug`; the exit
status says what happened: 0 success, 1 the code failed, 2 a usage or config error, 130 an
interrupt.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codemode.cli._args import _run_options, parse_args
from codemode.cli._output import _echo, _print_report, report_json
from codemode.config import load_config
from codemode.errors import CodemodeError
from codemode.shared.escape import escaped

if TYPE_CHECKING:
    from codemode.engine import Session


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # text a terminal's encoding lacks must not crash a run
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    args = parse_args(argv)
    try:
        return _dispatch(args)
    except CodemodeError as exc:
        if args.debug:
            raise
        print(escaped(f"codemode: {exc}"), file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before a session exists (reading code, loading the config)
        print("\ncodemode: interrupted", file=sys.stderr)
        return 130


_sessions: list[Session] = []  # what a Ctrl-C must end


def _exit_on_interrupt(signum: int, frame: object) -> None:
    """The first Ctrl-C ends the command at once, whatever it was doing (connecting, running,
    closing): one line, status 130. The worker's group is killed here; each server ends with
    this process, through its tether (docs/processes.md), so nothing waits on a server."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for session in _sessions:
        session.abandon()
    try:
        sys.stdout.flush()
    except Exception:  # noqa: BLE001 - boundary: the interrupt may land inside a write to stdout
        pass
    os.write(2, b"\ncodemode: interrupted\n")
    os._exit(130)


def _usage_error(args: argparse.Namespace, message: str) -> None:
    """Exit 2 with `codemode COMMAND: error: ...`, as argparse does for its own errors."""
    print(f"codemode {args.command}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _dispatch(args: argparse.Namespace) -> int:
    from codemode.engine import Session

    if args.command == "kernel":
        from codemode.kernel.__main__ import install_command

        return install_command(args.options, prog="codemode kernel install")
    if args.command == "test":
        from codemode.testing.run import run_notebooks

        return run_notebooks(args.notebooks, mode="live" if args.live else "record" if args.record else "replay",
                             config=args.config)
    code = _read_code(args) if args.command == "exec" else None
    inputs = _read_input(args) if args.command == "exec" else None
    config = load_config(args.config)
    if args.command == "audit":
        from codemode.cli._commands import _audit

        return _audit(config, args)
    if args.command == "auth":
        from codemode.cli._auth import auth_command

        return auth_command(config, args)
    if args.servers:
        unknown = sorted(set(args.servers) - set(config.servers))
        if unknown:
            raise CodemodeError(f"--server {unknown[0]!r} is not in the config (servers: {', '.join(config.servers)})")
        config = config.model_copy(update={"servers": {n: s for n, s in config.servers.items() if n in args.servers}})
    if args.command == "serve":
        from codemode.serve import ServeOptions, serve

        if args.transport == "stdio" and threading.current_thread() is threading.main_thread():
            # The SDK reads stdin on a thread nothing can cancel, so a Ctrl-C would wait for the
            # client to close stdin: it ends the server at once, as it ends any command. Each
            # worker ends with this process, each server through its tether, and the audit
            # trail and transcripts are written as they go. Over HTTP, uvicorn stops gracefully.
            signal.signal(signal.SIGINT, _exit_on_interrupt)
        return serve(config, ServeOptions(transport=args.transport, host=args.host, port=args.port,
                                          token=args.token, record=args.record, allow_hosts=tuple(args.allow_host)))
    from codemode.trust.approvers import TerminalApprover

    session = Session(config, disclosure=getattr(args, "disclosure", "stubs"), face="cli",
                      approver=TerminalApprover(), cassette=_cassette(args))
    if hasattr(args, "memory"):
        session.sandbox_options = session.sandbox_options.with_flags(
            memory=args.memory, allow_subprocess=args.allow_subprocess, workdir=args.workdir,
            allow_read=args.allow_read, require=args.require, disk=args.disk)
    # From here a Ctrl-C ends the command at once (test keeps its own handling).
    # Only the main thread may set a handler (a test may call main from another).
    handled = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, _exit_on_interrupt) if handled else None
    _sessions.append(session)
    try:
        return _command(session, args, code, inputs)
    finally:
        session.close()
        _sessions.remove(session)
        if handled:
            signal.signal(signal.SIGINT, previous)


def _command(session: Session, args: argparse.Namespace, code: str | None, inputs: dict[str, object] | None) -> int:
    """Run one command. Each starts only what it needs: `isolation` no server, `tools NAME`
    of an unknown server nothing at all."""
    from codemode.notebook._display import IsolationTable, ServerTable, ToolList

    if args.command == "isolation":  # the worker alone: no server starts
        print(repr(IsolationTable(session.isolation)))
        return 0
    target = getattr(args, "server", None) or (getattr(args, "target", None) or "").partition(".")[0]
    if args.command in ("tools", "stubs") and target:
        session.server_key(target)  # an unknown server: an error, and nothing started
    session.start(code if args.command == "exec" else None)
    for name, problem in session.failed.items():  # once, with the server's own last words
        print(escaped(f"codemode: server {name!r} failed to start: {problem}"), file=sys.stderr)
    if args.command == "servers":
        print(repr(ServerTable.of(session)))
        return 1 if session.failed else 0
    if args.command == "tools":
        print(repr(ToolList(session.tools(args.server), unavailable=session.unavailable_tools(args.server))))
        failed = session.failed if not args.server else {n: p for n, p in session.failed.items() if n == args.server}
        return 1 if failed else 0
    if args.command == "search":
        query = " ".join(args.query)
        print(escaped(session.search_text(query, args.detail, args.limit) or f"no tool matches {query!r}"))
        return 0
    if args.command == "stubs":
        from codemode.cli._commands import _stubs

        return _stubs(session, args.target, args.out)
    if args.command == "repl":
        from codemode.cli._commands import _repl

        return _repl(session, args)
    assert code is not None
    report = session.run(code, **_run_options(args), on_event=None if args.json else _echo,  # type: ignore[arg-type]
                         inputs=inputs, trace=args.trace)
    if args.json:
        print(json.dumps(report_json(report), ensure_ascii=False))
    else:
        _print_report(report)
    return 0 if report.ok else 1


def _cassette(args: argparse.Namespace) -> Any:
    """`--record PATH` / `--replay PATH [--strict]`; None leaves it to the config."""
    record, replay = getattr(args, "record", None), getattr(args, "replay", None)
    if getattr(args, "strict", False) and not replay:
        raise CodemodeError("--strict goes with --replay CASSETTE")
    if not (record or replay):
        return None
    from codemode.cassette import CassetteSettings

    return CassetteSettings(Path(str(record or replay)).resolve(), "record" if record else "replay", args.strict)


def _read_code(args: argparse.Namespace) -> str:
    if (args.code is None) == (args.file is None):
        _usage_error(args, "exec needs exactly one of FILE, - (stdin) or -c CODE")
    if args.code is not None:
        return str(args.code)
    if args.file == "-":
        return sys.stdin.read()
    try:
        return Path(args.file).read_text(encoding="utf-8")
    except OSError as exc:
        _usage_error(args, f"cannot read {args.file}: {exc.strerror}")
    raise AssertionError("unreachable")


def _read_input(args: argparse.Namespace) -> dict[str, object] | None:
    """`--input JSON` or `--input-file FILE` as the run's variable `input`."""
    if args.input is not None and args.input_file is not None:
        raise CodemodeError("give --input or --input-file, not both")
    if args.input is None and args.input_file is None:
        return None
    where, text = "--input", args.input
    if args.input_file is not None:
        where = f"--input-file {args.input_file}"
        try:
            text = Path(args.input_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise CodemodeError(f"{where}: cannot read it ({exc.strerror})") from None
    try:
        return {"input": json.loads(text)}
    except ValueError as exc:
        raise CodemodeError(f"{where}: not JSON ({exc}); quote it as JSON, e.g. --input '{{\"limit\": 3}}'") from None

