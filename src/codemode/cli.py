"""The command line: `codemode servers | tools | search | exec`.

Errors are one line on stderr (no traceback of our own code unless `--debug`), and the exit
status says what happened: 0 success, 1 the code failed, 2 a usage or config error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from codemode.config import load_config
from codemode.errors import CodemodeError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codemode", description="Code Mode for MCP: MCP tools as a Python API.")
    parser.add_argument("--config", help="an mcpServers JSON file (default: the usual places, else the demo)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of codemode's own errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("servers", help="each server, its transport, status and number of tools")
    tools = commands.add_parser("tools", help="the tools as Python signatures")
    tools.add_argument("server", nargs="?", help="only this server's tools")
    search = commands.add_parser("search", help="tools whose names and descriptions match the query")
    search.add_argument("query", nargs="+")
    run = commands.add_parser("exec", help="run code in the sandbox: FILE, - for stdin, or -c CODE")
    run.add_argument("file", nargs="?", help="a Python file, or - to read standard input")
    run.add_argument("-c", dest="code", help="the code to run")
    run.add_argument("--timeout", type=float, help="seconds the code may run")
    run.add_argument("--servers", help="comma-separated servers the code may call")
    run.add_argument("--json", action="store_true", help="print the run report as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return _dispatch(parser, args)
    except CodemodeError as exc:
        if args.debug:
            raise
        print(f"codemode: {exc}", file=sys.stderr)
        return 2


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from codemode.display import ServerTable, ToolList
    from codemode.session import Session

    code = None
    if args.command == "exec":
        code = _read_code(parser, args)
    with Session(load_config(args.config)) as session:
        if args.command == "servers":
            rows = [(session.python_name(n) if s.status == "connected" else "-", s) for n, s in session.servers.items()]
            print(repr(ServerTable(rows)))
            return 0
        if args.command == "tools":
            print(repr(ToolList(session.tools(args.server))))
            return 0
        if args.command == "search":
            query = " ".join(args.query)
            print(repr(ToolList(session.search(query), empty=f"no tool matches {query!r}")))
            return 0
        assert code is not None
        servers = [s.strip() for s in args.servers.split(",")] if args.servers else None
        echo = None if args.json else _echo
        report = session.run(code, timeout=args.timeout, servers=servers, on_event=echo)
        if args.json:
            print(json.dumps({**report.payload(), "stdout": report.stdout, "stderr": report.stderr,
                              "timing": report.volatile()}))
        else:
            import dataclasses

            print(repr(dataclasses.replace(report, streams_shown=True)), file=sys.stderr)
        return 0 if report.ok else 1


def _read_code(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    if (args.code is None) == (args.file is None):
        parser.error("exec needs exactly one of FILE, - (stdin) or -c CODE")
    if args.code is not None:
        return args.code
    if args.file == "-":
        return sys.stdin.read()
    try:
        with open(args.file, encoding="utf-8") as f:
            return f.read()
    except OSError as exc:
        parser.error(f"cannot read {args.file}: {exc.strerror}")
    raise AssertionError("unreachable")


def _echo(event: tuple[str, object]) -> None:
    kind, data = event
    if kind in ("stdout", "stderr"):
        stream = sys.stdout if kind == "stdout" else sys.stderr
        stream.write(str(data))
        stream.flush()


if __name__ == "__main__":
    sys.exit(main())
