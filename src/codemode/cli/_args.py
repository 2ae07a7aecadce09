"""The command line's parser: the commands, their options, and the global options.

The global options (`--config`, `--server`, `--debug`) are accepted before or after the
command. A new subcommand: `command(commands, "name", "what it does")` returns its parser,
which already has the global options; then add a branch to `_main._dispatch`. This module
imports nothing heavy, so `codemode --help` stays fast.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codemode.config import DEFAULT_CALL_TIMEOUT, DEFAULT_CELL_TIMEOUT

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
    auth = command(commands, "auth", "sign in to an HTTP server (OAuth): auth login SERVER, auth status, "
                                     "auth logout SERVER")
    auth.add_argument("action", choices=("login", "status", "logout"))
    auth.add_argument("name", nargs="?", metavar="SERVER", help="the server to sign in to or out of")
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
    command.add_argument("--elicit", choices=("ask", "decline", "defaults"),
                         help="what a server's question during a call gets: ask on the terminal (declined "
                              "without one), decline, or accept a form's defaults (default: the config's elicit, ask)")
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
            "tools": tools, "approve": approve, "elicit": args.elicit}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The arguments, global options merged from before and after the command."""
    args = _parser().parse_args(argv)
    after = getattr(args, "servers_after", None)
    if after:
        args.servers = (args.servers or []) + after
    return args

