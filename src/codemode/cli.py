"""The command line: `codemode servers | tools | search | stubs | exec | repl | isolation`.

Every command runs through the same `Session` (and so the same sandbox and policy) as a
notebook cell. Errors are one line on stderr, no traceback of our own code unless
`--debug`; the exit status says what happened: 0 success, 1 the code failed, 2 a usage or
config error.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from codemode.config import load_config
from codemode.errors import CodemodeError

if TYPE_CHECKING:
    from codemode.session import Session
    from codemode.trace import RunReport


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codemode", description="Code Mode for MCP: MCP tools as a Python API.")
    parser.add_argument("--config", help="an mcpServers JSON file (default: the usual places, else the demo)")
    parser.add_argument("--server", action="append", dest="servers", metavar="NAME",
                        help="use only this server (repeat for several); all by default")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of codemode's own errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("servers", help="each server, its transport, status and number of tools")
    _sandbox_flags(commands.add_parser("isolation", help="the sandbox's isolation layers and whether each is active"))
    tools = commands.add_parser("tools", help="the tools as Python signatures")
    tools.add_argument("server", nargs="?", help="only this server's tools")
    search = commands.add_parser("search", help="tools whose names and descriptions match the query, best first")
    search.add_argument("query", nargs="+")
    search.add_argument("--detail", choices=("names", "signatures", "full"), default="signatures")
    search.add_argument("--limit", type=int, default=10)
    stubs = commands.add_parser("stubs", help="`.pyi` stubs of the tools, printed or written as a tree")
    stubs.add_argument("target", nargs="?", help="SERVER or SERVER.TOOL (default: every server)")
    stubs.add_argument("--out", type=Path, help="write DIR/<server>/<tool>.pyi and DIR/index.md")
    kernel = commands.add_parser("kernel", help="the Jupyter kernel: kernel install [--user | --sys-prefix | --prefix DIR]")
    kernel.add_argument("action", choices=("install",))
    kernel.add_argument("options", nargs=argparse.REMAINDER)
    for name, text in (("exec", "run code in the sandbox: FILE, - for stdin, or -c CODE"),
                       ("repl", "an interactive prompt whose variables persist, like cells")):
        command = commands.add_parser(name, help=text)
        if name == "exec":
            command.add_argument("file", nargs="?", help="a Python file, or - to read standard input")
            command.add_argument("-c", dest="code", help="the code to run")
            command.add_argument("--json", action="store_true", help="print the run report as JSON")
            command.add_argument("--input", metavar="JSON", help="JSON data the code sees as the variable `input`")
            command.add_argument("--input-file", metavar="FILE", help="a JSON file the code sees as `input`")
        command.add_argument("--timeout", type=float, help="seconds a run may take")
        command.add_argument("--max-tool-calls", type=int, help="the most tool calls one run may make")
        command.add_argument("--max-output", type=int, help="characters of output kept per stream")
        command.add_argument("--tools", help="comma-separated server.tool patterns a run may call (wildcards)")
        _sandbox_flags(command)
        command.add_argument("--disclosure", choices=("stubs", "search"), default="stubs",
                             help="what the token account assumes a model read: every stub, or search results")
    return parser


def _sandbox_flags(command: argparse.ArgumentParser) -> None:
    command.add_argument("--memory", help="heap the worker may use: 512M, 2G, or none")
    command.add_argument("--allow-subprocess", action="store_true", help="let the code start processes")
    command.add_argument("--workdir", help="a directory to use as the worker's read-write work dir")
    command.add_argument("--allow-read", action="append", default=[], metavar="PATH",
                         help="an extra path the worker may read (repeatable)")
    command.add_argument("--require", help="comma-separated layers that must be active: landlock,seccomp")


def _run_options(args: argparse.Namespace) -> dict[str, object]:
    tools = [t.strip() for t in args.tools.split(",") if t.strip()] if args.tools else None
    return {"timeout": args.timeout, "max_tool_calls": args.max_tool_calls, "max_output": args.max_output,
            "tools": tools}


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
    except KeyboardInterrupt:
        return 130


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from codemode.display import IsolationTable, ServerTable, ToolList
    from codemode.session import Session

    if args.command == "kernel":
        from codemode.kernel.__main__ import install_command

        return install_command(args.options, prog="codemode kernel install")
    code = _read_code(parser, args) if args.command == "exec" else None
    inputs = _read_input(args) if args.command == "exec" else None
    config = load_config(args.config)
    if args.servers:
        unknown = sorted(set(args.servers) - set(config.servers))
        if unknown:
            raise CodemodeError(f"--server {unknown[0]!r} is not in the config (servers: {', '.join(config.servers)})")
        config = config.model_copy(update={"servers": {n: s for n, s in config.servers.items() if n in args.servers}})
    session = Session(config, disclosure=getattr(args, "disclosure", "stubs"))
    if hasattr(args, "memory"):
        session.sandbox_options = session.sandbox_options.with_flags(
            memory=args.memory, allow_subprocess=args.allow_subprocess, workdir=args.workdir,
            allow_read=args.allow_read, require=args.require)
    with session:
        if args.command == "servers":
            print(repr(ServerTable.of(session)))
            return 0
        if args.command == "isolation":
            print(repr(IsolationTable(session.isolation)))
            return 0
        if args.command == "tools":
            print(repr(ToolList(session.tools(args.server))))
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
                             inputs=inputs)
        if args.json:
            print(json.dumps({**report.payload(), "stdout": report.stdout, "stderr": report.stderr,
                              "timing": report.volatile()}))
        else:
            print(repr(dataclasses.replace(report, streams_shown=True)), file=sys.stderr)
        return 0 if report.ok else 1


def _stubs(session: Session, target: str | None, out: Path | None) -> int:
    if out is None:
        print(session.stubs(target))
        return 0
    index = ["# Tools", ""]
    for tool in session.tools():
        if target and target not in (tool.server, f"{tool.server}.{tool.name}"):
            continue
        path = out / tool.server / f"{tool.name}.pyi"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(tool.stub() + "\n", encoding="utf-8")
        index.append(f"- `{tool.server}.{tool.name}` ({tool.server}/{tool.name}.pyi): {tool.summary}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "index.md").write_text("\n".join(index) + "\n", encoding="utf-8")
    print(f"wrote {len(index) - 2} stubs and index.md under {out}", file=sys.stderr)
    return 0


def _repl(session: Session, args: argparse.Namespace) -> int:
    """Read code (a blank line ends a block), run it in the sandbox, repeat until EOF."""
    import codeop

    print("codemode repl: servers " + ", ".join(session.python_name(n) for n, s in session.servers.items()
                                                if s.status == "connected") + "; Ctrl-D exits", file=sys.stderr)
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
    if report.calls or report.error or report.result is not None:
        print(repr(dataclasses.replace(report, streams_shown=True)), file=sys.stderr)


def _read_code(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    if (args.code is None) == (args.file is None):
        parser.error("exec needs exactly one of FILE, - (stdin) or -c CODE")
    if args.code is not None:
        return str(args.code)
    if args.file == "-":
        return sys.stdin.read()
    try:
        return Path(args.file).read_text(encoding="utf-8")
    except OSError as exc:
        parser.error(f"cannot read {args.file}: {exc.strerror}")
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
        stream.write(str(data))
        stream.flush()


if __name__ == "__main__":
    sys.exit(main())
