"""Transcripts (`codemode serve --record DIR`): each client session as a notebook.

One notebook per client session, rewritten after each call so it is readable while the
session goes on: a first cell that loads the magic with the server's config, one `%%codemode`
cell per `execute` (its code, and as outputs what the magic would have shown: the printed
streams, the run report's display with its MIME bundle, and the error as Jupyter shows an
exception), and a markdown cell per `search` with the query and the names found. A person
opens it in JupyterLab, reads what the agent did (the renderer draws the reports), and
re-runs it on the codemode kernel's magic. An `execute` with `input` gets a cell before it
that binds the data, and `%%codemode --in input`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codemode.config import Config
    from codemode.trace import RunReport

_NBFORMAT = 4
_NBFORMAT_MINOR = 5


class Transcript:
    """The notebook of one client session, under `directory`."""

    def __init__(self, directory: Path, key: str, config: Config) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        safe = "".join(ch for ch in key if ch.isalnum() or ch in "-_")[:32] or "session"
        self.path = directory / f"codemode-{stamp}-{safe}.ipynb"
        self._cells: list[dict[str, Any]] = []
        self._count = 0
        setup = ["%load_ext codemode"]
        if config.source:
            setup.append(f"%config CodeModeMagics.config_file = {str(Path(config.source).resolve())!r}")
        self._cells.append(_markdown(f"# codemode serve: session `{key}`\n\n"
                                     f"Started {time.strftime('%Y-%m-%d %H:%M:%S')}. Each `%%codemode` cell is an "
                                     "`execute` call of the agent, with the report it got; each note like this one "
                                     "is a `search`. Run all to repeat the session."))
        self._cells.append(self._code("\n".join(setup), []))

    def add_search(self, query: str, detail: str, names: list[str]) -> None:
        found = ", ".join(f"`{name}`" for name in names) or "nothing"
        self._cells.append(_markdown(f"**search** `{query}` ({detail}): found {found}"))
        self._write()

    def add_execute(self, report: RunReport, *, timeout: object = None, inputs: dict[str, Any] | None = None) -> None:
        flags = ""
        if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
            flags += f" --timeout {timeout:g}"
        if inputs is not None:
            self._cells.append(self._code(f"input = {_literal(inputs['input'])}", []))
            flags += " --in input"
        self._cells.append(self._code(f"%%codemode{flags}\n{report.code}", _outputs(report)))
        self._write()

    def _code(self, source: str, outputs: list[dict[str, Any]]) -> dict[str, Any]:
        self._count += 1
        for output in outputs:
            if output["output_type"] == "execute_result":
                output["execution_count"] = self._count
        return {"cell_type": "code", "id": f"cell-{len(self._cells)}", "metadata": {},
                "execution_count": self._count, "source": source, "outputs": outputs}

    def _write(self) -> None:
        notebook = {
            "nbformat": _NBFORMAT,
            "nbformat_minor": _NBFORMAT_MINOR,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                         "language_info": {"name": "python"}},
            "cells": self._cells,
        }
        temporary = self.path.with_suffix(".ipynb.tmp")
        temporary.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(temporary, self.path)  # a reader never sees half a notebook


def _markdown(text: str) -> dict[str, Any]:
    import hashlib

    return {"cell_type": "markdown", "id": "md-" + hashlib.sha1(text.encode()).hexdigest()[:12],
            "metadata": {}, "source": text}


def _outputs(report: RunReport) -> list[dict[str, Any]]:
    """What `%%codemode` leaves in a notebook for this report (see `magics.codemode_cell`)."""
    outputs: list[dict[str, Any]] = []
    for name, text in (("stdout", report.stdout), ("stderr", report.stderr)):
        if text:
            outputs.append({"output_type": "stream", "name": name, "text": text})
    shown = dataclasses.replace(report, streams_shown=True)
    if shown.worker_restarted:
        reason = shown.restart_reason or "the previous one stopped"
        outputs.append({"output_type": "stream", "name": "stderr",
                        "text": f"codemode: this cell runs in a fresh worker ({reason}); "
                                "variables of earlier cells are gone\n"})
    if shown.error is not None:
        if shown.calls:
            outputs.append(_display(dataclasses.replace(shown, error=None)))
        outputs.append(_error(shown.error))
    elif shown.calls or shown.result is not None or shown.output_dropped:
        outputs.append(_display(shown))
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
