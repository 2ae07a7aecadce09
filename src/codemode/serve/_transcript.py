"""Transcripts (`codemode serve --record DIR`): each client session as a notebook.

One notebook per client session, rewritten after each call so it is readable while the
session goes on: a first cell that loads the magic with the server's config, one `%%codemode`
cell per `execute` (its code, and as outputs what the magic would have shown: the printed
streams, the run report's display with its MIME bundle, and the error as Jupyter shows an
exception), and a markdown cell per `search` with the query and the names found. A person
opens it in JupyterLab, reads what the agent did (the renderer draws the reports), and
re-runs it on the codemode kernel's magic. An `execute` with `input` gets a cell before it
that binds the data, and `%%codemode --in input`; one that found the session's worker
reclaimed (idle too long) gets a `%codemode reset` cell before it, so a re-run loses the
variables where the agent lost them. A cell whose code failed is tagged
`raises-exception`, so a re-run (nbclient, nbval) goes on past it as the agent did.

Beside each notebook is its cassette (`NAME.cassette.jsonl`, see `codemode.cassette`): the
tool lists of the servers and every tool call the session made, as they were answered.
`codemode test NAME.ipynb` re-runs the notebook from it, offline and compared cell by cell;
Run All without it re-runs against the live servers.

What leaves the host here is redacted as the cassette is (`trust.redact`: the config's
`${VAR}` values and `redact` patterns), tool results in the report bundles included. The
folder is made private (0700) and each file is 0600; a notebook is named by a digest, never
by the client's session id (a bearer of the session over HTTP).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codemode.cassette import SessionCassette
from codemode.testing import cassette_for
from codemode.trust.redact import Redactor

if TYPE_CHECKING:
    from codemode.config import Config
    from codemode.hub import ServerState
    from codemode.trace import RunReport

_NBFORMAT = 4
_NBFORMAT_MINOR = 5


class Transcript:
    """The notebook of one client session, under `directory`, and its cassette beside it.
    `servers` gives the servers' states (whose tool lists go into the cassette)."""

    def __init__(self, directory: Path, key: str, config: Config,
                 servers: Callable[[], dict[str, ServerState]] | None = None) -> None:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(directory, 0o700)  # transcripts hold what tools returned: the owner's only
        stamp = time.strftime("%Y%m%d-%H%M%S")
        digest = hashlib.sha256(f"{key}:{os.getpid()}:{time.time_ns()}".encode()).hexdigest()[:16]
        self.path = directory / f"codemode-{stamp}-{digest}.ipynb"
        self._redactor = Redactor.of(config)
        cassette = cassette_for(self.path)
        os.close(os.open(cassette, os.O_CREAT | os.O_WRONLY, 0o600))  # 0600 before anything is in it
        self.cassette = SessionCassette(config, cassette)
        self._servers = servers
        self._cells: list[dict[str, Any]] = []
        self._count = 0
        setup = ["%load_ext codemode"]
        if config.source:
            setup.append(f"%config CodeModeMagics.config_file = {str(Path(config.source).resolve())!r}")
        self._cells.append(_markdown(f"# codemode serve: session `{key}`\n\n"
                                     f"Started {time.strftime('%Y-%m-%d %H:%M:%S')}. Each `%%codemode` cell is an "
                                     "`execute` call of the agent, with the report it got; each **search** note "
                                     "is a `search` call. Run all to repeat the session against the servers; "
                                     f"`codemode test {self.path.name}` repeats it offline, from the tool calls "
                                     f"recorded in `{self.cassette.path.name}` beside it."))
        self._cells.append(self._code("\n".join(setup), []))

    def add_search(self, query: str, detail: str, names: list[str]) -> None:
        found = ", ".join(f"`{name}`" for name in names) or "nothing"
        self._cells.append(_markdown(f"**search** `{query}` ({detail}): found {found}"))
        self._write()

    def _write_servers(self) -> None:
        if self._servers is not None:
            self.cassette.servers(self._servers())  # once each: a run without calls needs them too

    def add_execute(self, report: RunReport, *, timeout: object = None, inputs: dict[str, Any] | None = None,
                    events: list[tuple[str, Any]] | None = None, state_lost: bool = False) -> None:
        """A `%%codemode` cell for an `execute`; `events`: the run's live events, in order;
        `state_lost`: the session's worker was reclaimed before it (a re-run resets there too)."""
        if state_lost:
            self._cells.append(self._code("%codemode reset", [
                {"output_type": "stream", "name": "stdout",
                 "text": "codemode: a fresh worker is running; earlier variables are gone\n"}]))
        flags = ""
        if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
            flags += f" --timeout {timeout:g}"
        if inputs is not None:
            self._cells.append(self._code(f"input = {_literal(inputs['input'])}", []))
            flags += " --in input"
        cell = self._code(f"%%codemode{flags}\n{report.code}", _outputs(report, events))
        if report.error is not None:  # the magic raises: a re-run goes on past it
            cell["metadata"]["tags"] = ["raises-exception"]
        self._cells.append(cell)
        self._write()

    def _code(self, source: str, outputs: list[dict[str, Any]]) -> dict[str, Any]:
        self._count += 1
        for output in outputs:
            if output["output_type"] == "execute_result":
                output["execution_count"] = self._count
        return {"cell_type": "code", "id": f"cell-{len(self._cells)}", "metadata": {},
                "execution_count": self._count, "source": source, "outputs": outputs}

    def _write(self) -> None:
        self._write_servers()
        notebook = {
            "nbformat": _NBFORMAT,
            "nbformat_minor": _NBFORMAT_MINOR,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                         "language_info": {"name": "python"}},
            "cells": self._cells,
        }
        text = json.dumps(self._redactor.value(notebook), indent=1, ensure_ascii=False) + "\n"
        temporary = self.path.with_suffix(".ipynb.tmp")
        fd = os.open(temporary, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with open(fd, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, self.path)  # a reader never sees half a notebook


def _markdown(text: str) -> dict[str, Any]:
    import hashlib

    return {"cell_type": "markdown", "id": "md-" + hashlib.sha1(text.encode()).hexdigest()[:12],
            "metadata": {}, "source": text}


def _outputs(report: RunReport, events: list[tuple[str, Any]] | None) -> list[dict[str, Any]]:
    """What `%%codemode` leaves in a notebook for this report, run unattended as nbclient and
    nbval run it (see `magics.codemode_cell` and `_cellviews.Unattended`): the printed streams and
    display() outputs in the order they came, a display with an id once in its final state,
    then the report (or a call-free rich result as itself), then the error."""
    outputs: list[dict[str, Any]] = []
    if events is None:  # no live events: the streams as the report has them
        events = [(name, text) for name, text in (("stdout", report.stdout), ("stderr", report.stderr)) if text]
    finals = {d["display_id"]: d for d in report.displays if d.get("display_id")}
    for kind, data in events:
        if kind in ("stdout", "stderr") and data:
            if outputs and outputs[-1]["output_type"] == "stream" and outputs[-1]["name"] == kind:
                outputs[-1]["text"] += data  # as a front end (and nbval) joins a stream's pieces
            else:
                outputs.append({"output_type": "stream", "name": kind, "text": data})
        elif kind == "display" and not data.get("update"):
            final = finals.get(data.get("display_id"), data) if data.get("display_id") else data
            outputs.append({"output_type": "display_data", "data": final["data"], "metadata": final["metadata"]})
    shown = dataclasses.replace(report, streams_shown=True)
    if shown.worker_restarted:
        reason = shown.restart_reason or "the previous one stopped"
        outputs.append({"output_type": "stream", "name": "stderr",
                        "text": f"codemode: this cell runs in a fresh worker ({reason}); "
                                "variables of earlier cells are gone\n"})
    from codemode.outputs import result_bundle

    bundle = result_bundle(report.result) if report.error is None else None
    lost = report.outputs_refused or report.displays_truncated or (report.error is None and report.output_dropped)
    if bundle is not None and not (report.calls or lost):
        outputs.append({"output_type": "display_data", "data": bundle[0], "metadata": bundle[1]})
    elif report.calls or lost or (report.error is None and report.result is not None):
        outputs.append(_display(dataclasses.replace(shown, error=None) if shown.error is not None else shown))
    if shown.error is not None:
        outputs.append(_error(shown.error))
    return outputs


def _display(report: RunReport) -> dict[str, Any]:
    data, metadata = report._repr_mimebundle_()
    return {"output_type": "display_data", "data": data, "metadata": metadata}


def _error(error: dict[str, Any]) -> dict[str, Any]:
    kind = str(error.get("type", "Error"))
    lines = (error.get("traceback") or "").rstrip("\n").splitlines()
    if not any(line.split(":", 1)[0].endswith(kind) for line in lines):
        code = f" [{error['code']}]" if error.get("code") and kind != "ToolError" else ""
        lines.append(f"{kind}: {error.get('message', '')}{code}")
    return {"output_type": "error", "ename": kind, "evalue": str(error.get("message", "")), "traceback": lines}


def _literal(value: Any) -> str:
    """Python source for JSON data (`true` → `True`), round-tripped through json."""
    return repr(json.loads(json.dumps(value)))
