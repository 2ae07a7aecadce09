"""The commands that are more than a call on the session: `audit`, `stubs --out`, `repl`."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from codemode.cli._args import _run_options
from codemode.cli._output import _echo, _print_report
from codemode.errors import CodemodeError

if TYPE_CHECKING:
    from codemode.config import Config
    from codemode.engine import Session


def _audit(config: Config, args: argparse.Namespace) -> int:
    """Print the audit trail's events, filtered, as a table or as JSON Lines."""
    from codemode.trust.audit import (
        audit_path,
        default_audit_path,
        parse_since,
        read_events,
        render_table,
    )

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

