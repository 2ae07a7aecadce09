"""The command line: `codemode servers | tools | search | stubs | exec | repl | isolation | kernel | serve | audit`.

Every command runs through the same `Session` (and so the same sandbox and policy) as a
notebook cell. The global options (`--config`, `--server`, `--debug`) are accepted before or
after the command. What a command produces goes to stdout (for `exec`, the code's output and
the value of its last expression, so `$(codemode exec -c 'expr')` captures it); the run
report, prompts and errors go to stderr. Errors are one line, no traceback of our own code
unless `--debug`; the exit status says what happened: 0 success, 1 the code failed, 2 a usage
or config error.

The package, one job per module: `_args` (the parser; a new subcommand starts there),
`_main` (`main`: the session, the dispatch, Ctrl-C), `_output` (what a run prints) and
`_commands` (`audit`, `stubs --out`, `repl`, imported only when one runs).
"""

from __future__ import annotations

from codemode.cli._args import command, parse_args, run_flags, timeout_value
from codemode.cli._main import main
from codemode.cli._output import report_json, result_text

__all__ = ["command", "main", "parse_args", "report_json", "result_text", "run_flags", "timeout_value"]
