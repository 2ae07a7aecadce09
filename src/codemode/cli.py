"""The command line: `codemode servers | tools | search | stubs | exec | repl | isolation | kernel | serve | audit`.

Every command runs through the same `Session` (and so the same sandbox and policy) as a
notebook cell. The global options (`--config`, `--server`, `--debug`) are accepted before or
after the command. What a command produces goes to stdout (for `exec`, the code's output and
the value of its last expression, so `$(codemode exec -c 'expr')` captures it); the run
report, prompts and errors go to stderr. Errors are one line, no traceback of our own code
unless `--debug`; the exit status says what happened: 0 success, 1 the code failed, 2 a usage
or config error.

A new subcommand: `command(commands, "name", "what it does")` returns its parser, which
already has the global options; then add a branch to `_dispatch`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codemode.config import DEFAULT_CALL_TIMEOUT, DEFAULT_CELL_TIMEOUT, load_config
from codemode.errors import CodemodeError

if TYPE_CHECKING:
    from codemode.config import Config
    from codemode.session import Session
    from codemode.trace import RunReport

# Repeated here, not imported, so that `--help` does not import the session (and the SDK).
_DEFAULT_MAX_OUTPUT = 1_000_000


def _global_options(*, top: bool) -> argparse.ArgumentParser:
    """The options every command takes, before the command (`top`) or after it.

    After the command the defaults are SUPPRESS, so an option given before the command is not
    overwritten by the subcommand's default; `--server` after it goes to `servers_after` and
    is merged with the ones before.
    """
    options = argparse.ArgumentParser(add_help=False)
    unset = (lambda value: value) if top else (lambda value: argparse.SUPPRESS)
    group = options.add_argument_group("global options (before or after the command)")
    group.add_argument("--config", metavar="FILE", default=unset(None),
                       help="an mcpServers JSON file (default: $CODEMODE_CONFIG, ./mcp.json, "
                            "~/.config/codemode/mcp.json, else the built-in demo)")
    group.add_argument("--server", action="append", dest="servers" if top else "servers_after",
                       metavar="NAME", default=unset(None),
                       help="use only this server (repeat for several; default: every enabled server)")
    group.add_argument("--debug", action="store_true", default=unset(False),
                       help="show tracebacks of codemode's own errors (default: one line)")
    return options


_COMMAND_OPTIONS = _global_options(top=False)


def command(commands: Any, name: str, text: str) -> argparse.ArgumentParser:
    """A subcommand's parser with the global options; `text` is its help and description."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name, help=text, description=text, parents=[_COMMAND_OPTIONS])
    return parser


def timeout_value(text: str) -> float:
    """`--timeout`: positive seconds, or `none` for no limit (math.inf)."""
    if text.strip().lower() in ("none", "inf", "off"):
        return math.inf
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds; give e.g. 30, or none for no limit") from None
    if not seconds > 0 or math.isnan(seconds):
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of seconds; give e.g. 30, or none for no limit")
    return seconds


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive whole number")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codemode", description="Code Mode for MCP: MCP tools as a Python API.",
                                     parents=[_global_options(top=True)])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    command(commands, "servers", "each server, its transport, status and number of tools")
    _sandbox_flags(command(commands, "isolation", "the sandbox's isolation layers and whether each is active"))
    tools = command(commands, "tools", "the tools as Python signatures")
    tools.add_argument("server", nargs="?", help="only this server's tools (default: every server)")
    search = command(commands, "search", "tools whose names, descriptions and arguments match the query, best first")
    search.add_argument("query", nargs="+")
    search.add_argument("--detail", choices=("names", "signatures", "full"), default="signatures",
                        help="how much of each tool to show (default: %(default)s)")
    search.add_argument("--limit", type=_positive_int, default=10, help="the most tools to show (default: %(default)s)")
    stubs = command(commands, "stubs", "`.pyi` stubs of the tools, printed or written as a package")
    stubs.add_argument("target", nargs="?", help="SERVER or SERVER.TOOL (default: every server)")
    stubs.add_argument("--out", type=Path, metavar="DIR",
                       help="write a stub package: DIR/<server>/__init__.pyi and one module per tool, "
                            "and DIR/index.md (default: print the stubs)")
    serve = command(commands, "serve", "an MCP server with two tools, search and execute, over these servers")
    serve.add_argument("--transport", choices=("stdio", "http"), default="stdio",
                       help="stdio (a client starts this process) or streamable HTTP at /mcp (default: %(default)s)")
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on over HTTP (default: %(default)s)")
    serve.add_argument("--port", type=int, default=8765, help="the port over HTTP, 0 for any free one (default: %(default)s)")
    serve.add_argument("--token", help="require Authorization: Bearer TOKEN over HTTP (default: $CODEMODE_SERVE_TOKEN)")
    serve.add_argument("--record", type=Path, metavar="DIR", help="write each client session as a notebook in DIR")
    serve.add_argument("--allow-host", action="append", default=[], metavar="HOST[:PORT]",
                       help="another Host header to accept over HTTP, as a proxy in front sends it (repeatable)")
    audit = command(commands, "audit", "the audit trail: runs, searches, tool calls and approvals, as a table or JSON")
    audit.add_argument("--file", type=Path, metavar="PATH",
                       help="the audit file (default: the config's audit, else the serve default under "
                            "$XDG_STATE_HOME/codemode)")
    audit.add_argument("--since", metavar="TIME",
                       help="only events from then on: 2026-11-30, 2026-11-30T09:00, or an age: 15m, 2h, 7d "
                            "(default: all)")
    audit.add_argument("--session", metavar="ID", help="only this session's events: its id, or the tail the table shows")
    audit.add_argument("--run", metavar="ID", help="only this run's events: its id, or the tail the table shows")
    audit.add_argument("--json", action="store_true", help="print the events as JSON Lines (default: a table)")
    kernel = command(commands, "kernel", "the Jupyter kernel: kernel install [--user | --sys-prefix | --prefix DIR]")
    kernel.add_argument("action", choices=("install",))
    kernel.add_argument("options", nargs=argparse.REMAINDER)
    for name, text in (("exec", "run code in the sandbox: FILE, - for stdin, or -c CODE"),
                       ("repl", "an interactive prompt whose variables persist, like cells")):
        run = command(commands, name, text)
        if name == "exec":
            run.add_argument("file", nargs="?", help="a Python file, or - to read standard input")
            run.add_argument("-c", dest="code", help="the code to run")
            run.add_argument("--json", action="store_true",
                             help="print the run report as JSON on stdout (docs/run-report.schema.json)")
            run.add_argument("--input", metavar="JSON", help="JSON data the code sees as the variable `input` (default: none)")
            run.add_argument("--input-file", metavar="FILE", help="a JSON file the code sees as `input` (default: none)")
            run.add_argument("--trace", metavar="FILE",
                             help="write every tool call, whole, to FILE as JSON Lines (default: none; the report "
                                  "keeps the first 100 calls and every failure whole and sums up the rest per tool)")
        tape = run.add_mutually_exclusive_group()
        tape.add_argument("--record", metavar="CASSETTE", help="record the tool lists and calls to this file "
                                                                "(default: the config's cassette, else none)")
        tape.add_argument("--replay", metavar="CASSETTE", help="answer tool calls from this file; no server starts")
        run.add_argument("--strict", action="store_true",
                         help="with --replay: a call not in the cassette fails (NOT_RECORDED) instead of going live")
        run_flags(run)
    test = command(commands, "test", "run notebooks under nbval, replaying the cassette beside each "
                                     "(NAME.cassette.jsonl); exit status as pytest's")
    test.add_argument("notebooks", nargs="+", metavar="NOTEBOOK")
    mode = test.add_mutually_exclusive_group()
    mode.add_argument("--live", action="store_true", help="run against the servers, not the cassettes")
    mode.add_argument("--record", action="store_true", help="run against the servers and record the cassettes anew")
    return parser


def run_flags(command: argparse.ArgumentParser) -> None:
    """The limits and sandbox options of a command that runs code."""
    command.add_argument("--timeout", type=timeout_value, metavar="SECONDS",
                         help="seconds a run may take, or none for no limit (default: the config's "
                              f"cellTimeout, {DEFAULT_CELL_TIMEOUT:g} s; each tool call: callTimeout, "
                              f"{DEFAULT_CALL_TIMEOUT:g} s)")
    command.add_argument("--max-tool-calls", type=_positive_int, metavar="N",
                         help="the most tool calls one run may make (default: the config's maxToolCalls, else no cap)")
    command.add_argument("--max-output", type=_positive_int, metavar="CHARS",
                         help="characters of output kept per stream (default: the config's maxOutput, "
                              f"else {_DEFAULT_MAX_OUTPUT:,})")
    command.add_argument("--tools", metavar="PATTERNS",
                         help="comma-separated server.tool patterns a run may call, wildcards "
                              "(default: the config's tools, else every tool)")
    command.add_argument("--approve", metavar="PATTERNS",
                         help="comma-separated server.tool patterns pre-approved: no question asked "
                              "(default: the config's preapproved; others that need approval ask on the terminal)")
    _sandbox_flags(command)
    command.add_argument("--disclosure", choices=("stubs", "search"), default="stubs",
                         help="what the token account assumes a model read: every stub, or search results "
                              "(default: %(default)s)")


def _sandbox_flags(command: argparse.ArgumentParser) -> None:
    command.add_argument("--memory", help="heap the worker may use: 512M, 2G, or none (default: the config's "
                                          "memoryMb, 4096M)")
    command.add_argument("--disk", help="total size of the work dir: 512M, 2G, or none (default: the config's "
                                        "diskMb, 1024M)")
    command.add_argument("--allow-subprocess", action="store_true",
                         help="let the code start processes (default: not allowed)")
    command.add_argument("--workdir", help="a directory to use as the worker's read-write work dir "
                                           "(default: a fresh temporary directory)")
    command.add_argument("--allow-read", action="append", default=[], metavar="PATH",
                         help="an extra path the worker may read (repeatable; default: none)")
    command.add_argument("--require", help="comma-separated layers that must be active: landlock,seccomp "
                                           "(default: none required)")


def _run_options(args: argparse.Namespace) -> dict[str, object]:
    tools = [t.strip() for t in args.tools.split(",") if t.strip()] if args.tools else None
    approve = [t.strip() for t in args.approve.split(",") if t.strip()] if args.approve else None
    return {"timeout": args.timeout, "max_tool_calls": args.max_tool_calls, "max_output": args.max_output,
            "tools": tools, "approve": approve}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The arguments, global options merged from before and after the command."""
    args = _parser().parse_args(argv)
    after = getattr(args, "servers_after", None)
    if after:
        args.servers = (args.servers or []) + after
    return args


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
        print(f"codemode: {exc}", file=sys.stderr)
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
    from codemode.session import Session

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
        return _audit(config, args)
    if args.servers:
        unknown = sorted(set(args.servers) - set(config.servers))
        if unknown:
            raise CodemodeError(f"--server {unknown[0]!r} is not in the config (servers: {', '.join(config.servers)})")
        config = config.model_copy(update={"servers": {n: s for n, s in config.servers.items() if n in args.servers}})
    if args.command == "serve":
        from codemode.serve import ServeOptions, serve

        return serve(config, ServeOptions(transport=args.transport, host=args.host, port=args.port,
                                          token=args.token, record=args.record, allow_hosts=tuple(args.allow_host)))
    from codemode.approvers import TerminalApprover

    session = Session(config, disclosure=getattr(args, "disclosure", "stubs"), face="cli",
                      approver=TerminalApprover(), cassette=_cassette(args))
    if hasattr(args, "memory"):
        session.sandbox_options = session.sandbox_options.with_flags(
            memory=args.memory, allow_subprocess=args.allow_subprocess, workdir=args.workdir,
            allow_read=args.allow_read, require=args.require, disk=args.disk)
    # From here a Ctrl-C ends the command at once (serve and test keep their own handling).
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
    from codemode.display import IsolationTable, ServerTable, ToolList

    if args.command == "isolation":  # the worker alone: no server starts
        print(repr(IsolationTable(session.isolation)))
        return 0
    target = getattr(args, "server", None) or (getattr(args, "target", None) or "").partition(".")[0]
    if args.command in ("tools", "stubs") and target:
        session.server_key(target)  # an unknown server: an error, and nothing started
    session.start(code if args.command == "exec" else None)
    for name, problem in session.failed.items():  # once, with the server's own last words
        print(f"codemode: server {name!r} failed to start: {problem}", file=sys.stderr)
    if args.command == "servers":
        print(repr(ServerTable.of(session)))
        return 1 if session.failed else 0
    if args.command == "tools":
        print(repr(ToolList(session.tools(args.server), unavailable=session.unavailable_tools(args.server))))
        return 0
    if args.command == "search":
        query = " ".join(args.query)
        print(session.search_text(query, args.detail, args.limit) or f"no tool matches {query!r}")
        return 0
    if args.command == "stubs":
        return _stubs(session, args.target, args.out)
    if args.command == "repl":
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

    return CassetteSettings(Path(record or replay).resolve(), "record" if record else "replay", args.strict)


def report_json(report: RunReport) -> dict[str, Any]:
    """`exec --json`: the run report as docs/run-report.schema.json describes it."""
    volatile = report.volatile()
    timing = ("id", "started", "duration")
    # A script wants each call whole: what a notebook compares and what it keeps in metadata.
    calls = [{**call.payload(), **{k: v for k, v in call.facts().items() if k not in timing}} for call in report.calls]
    payload = report.payload()
    if "summary" in payload:  # the summarised calls' timings and bytes beside their counts
        tools = [{**row, **facts} for row, facts in zip(payload["summary"]["tools"], volatile["summary"])]
        payload["summary"] = {**payload["summary"], "tools": tools,
                              **({"trace": report.trace_path} if report.trace_path else {})}
    return {**payload, "calls": calls, "runId": report.run_id, "stdout": report.stdout, "stderr": report.stderr,
            "isolation": volatile["isolation"], "tokens": volatile["tokens"],
            "timing": {"duration": volatile["duration"],
                       "calls": [{k: facts[k] for k in timing} for facts in volatile["calls"]]}}


def _audit(config: Config, args: argparse.Namespace) -> int:
    """Print the audit trail's events, filtered, as a table or as JSON Lines."""
    from codemode.audit import audit_path, default_audit_path, parse_since, read_events, render_table

    path = args.file or audit_path(config, "serve") or default_audit_path()
    if not path.is_file():
        raise CodemodeError(f"no audit file at {path}; set \"audit\": PATH in the config's codemode object "
                            "(codemode serve writes one by default), or pass --file")
    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        raise CodemodeError(str(exc)) from None
    events = read_events(path, since=since, session=args.session, run=args.run)
    if args.json:
        for event in events:
            print(json.dumps(event, ensure_ascii=False))
    else:
        print(render_table(events))
    return 0


def _stubs(session: Session, target: str | None, out: Path | None) -> int:
    if out is None:
        print(session.stubs(target))
        return 0
    from codemode.schema import package_name

    if target:
        session.stubs(target)  # an unknown server or tool is an error naming the ones there are
    server, _, only = (target or "").partition(".")
    keys = [server] if server else sorted({t.server for t in session.tools()})
    index = ["# Tools", "", "A stub package per server: put this directory on MYPYPATH (or your editor's stub path).", ""]
    count = 0
    for key in keys:
        files = session.stub_package(key)
        for relative, text in files.items():
            path = out / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        package = package_name(key)
        if package != key:
            index.append(f"`{key}` is the package `{package}/`: the standard library has a module named {key}.")
            index.append("")
        for tool in session.tools(key):
            if only and tool.name != only:
                continue
            count += 1
            index.append(f"- `{key}.{tool.name}` ({package}/{tool.name}.pyi): {tool.summary}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "index.md").write_text("\n".join(index) + "\n", encoding="utf-8")
    print(f"wrote stub packages of {len(keys)} servers ({count} tools) and index.md under {out}", file=sys.stderr)
    return 0


def _repl(session: Session, args: argparse.Namespace) -> int:
    """Read code (a blank line ends a block), run it in the sandbox, repeat until EOF."""
    import codeop

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C: a fresh prompt, or the cell's
    print("codemode repl: servers " + ", ".join(session.python_name(n) for n, s in session.servers.items()
                                                if s.status in ("connected", "idle")) + "; Ctrl-D exits", file=sys.stderr)
    compiler = codeop.CommandCompiler()
    failed = False
    while True:
        lines: list[str] = []
        try:
            while True:
                line = _read_line("... " if lines else ">>> ")
                lines.append(line)
                source = "\n".join(lines)
                try:
                    complete = compiler(source, "<repl>", "exec") is not None
                except SyntaxError:
                    complete = True  # the worker reports it, with its line
                if complete and not (line.startswith((" ", "\t")) or source.rstrip().endswith(":")):
                    break
        except EOFError:
            print(file=sys.stderr)
            return 1 if failed else 0
        except KeyboardInterrupt:
            print("\nKeyboardInterrupt", file=sys.stderr)
            continue
        report = session.run("\n".join(lines), **_run_options(args), on_event=_echo)  # type: ignore[arg-type]
        failed = not report.ok
        _print_report(report)


def _read_line(prompt: str) -> str:
    """A line of input; the prompt goes to stderr unless this is a terminal, so stdout is the code's."""
    if sys.stdin.isatty():
        return input(prompt)
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.rstrip("\n")


def _print_report(report: RunReport) -> None:
    """The value of the last expression on stdout (what a script captures), the report on stderr."""
    if report.result is not None:
        sys.stdout.write(_for(sys.stdout, result_text(report.result)) + "\n")
        sys.stdout.flush()
    if report.calls or report.error or not report.ok:
        print(repr(dataclasses.replace(report, streams_shown=True, result=None)), file=sys.stderr)


def result_text(result: dict[str, Any]) -> str:
    """A run's value as a script wants it: a string as is, other JSON as JSON, else its repr."""
    kind = result.get("kind")
    if kind == "json":
        value = result.get("value")
        return value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)
    if kind == "repr":
        return str(result.get("text", ""))
    from codemode.trace._render import _result_text

    return _result_text(result)


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


def _echo(event: tuple[str, object]) -> None:
    kind, data = event
    if kind in ("stdout", "stderr"):
        stream = sys.stdout if kind == "stdout" else sys.stderr
        stream.write(_for(stream, str(data)))
        stream.flush()
    elif kind == "display" and isinstance(data, dict) and not data.get("update"):
        # A terminal shows a table or a figure as its text form (--json keeps the MIME bundle).
        print(data["data"].get("text/plain", ""), flush=True)


def _for(stream: Any, text: str) -> str:
    """Text from the worker as `stream` may show it: on a terminal, control characters are
    escaped (an escape sequence could rewrite the lines above); into a pipe, it goes as is."""
    from codemode.trace._text import terminal_safe

    isatty = getattr(stream, "isatty", None)
    return terminal_safe(text) if isatty is not None and isatty() else text


if __name__ == "__main__":
    sys.exit(main())
