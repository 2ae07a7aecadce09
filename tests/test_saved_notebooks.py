"""Notebooks as people save them (issue 26): one output order whoever runs the cell, test runs
that write nothing, approvals that are part of the recording.

Real kernels (jupyter_client), the real demo server, real `codemode test` runs. A person's
answer to an approval question comes through the kernel's stdin as JupyterLab sends it
(`Kernel.execute(answer=...)`), or, at the session's seam, from a scripted approver (nobody
can be asked for real in a test). The browser test of a notebook saved from JupyterLab is
tests/lab/test_lab_saved.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from kernels import SRC, Kernel

from codemode.cassette import CassetteSettings
from codemode.config import demo_config
from codemode.engine import Session
from codemode.trace import MIME_TYPE
from codemode.trust.approval import Answer, ApprovalRequest

# A cell that prints before its first call and after it, and displays a table among its prints.
PRINTS_AND_CALLS = ('%%codemode\nprint("before")\nopen_orders = demo.list_orders(status="open")\n'
                    'print("after", len(open_orders))\ndisplay({"text/plain": "a table"}, raw=True)\n'
                    'print("last")\nlen(open_orders)')
CANCEL = '%%codemode\nprint("cancelling")\ndone = demo.cancel_order(order_id=1030)\nprint(done["status"])\ndone["id"]'
TEST_TIMEOUT = 600  # seconds for one `codemode test` run: a kernel start and a few cells


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    with Kernel(tmp_path_factory.mktemp("saved-order")) as kernel:
        kernel.run("%load_ext codemode")
        yield kernel


def _shape(outputs: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, ...]]:
    """What nbval compares, in order: each output's type, and its stream's text or its MIME types."""
    shape: list[tuple[str, ...]] = []
    for kind, content in outputs:
        if kind == "stream":
            if shape and shape[-1][:2] == ("stream", content["name"]):  # a notebook keeps one output per run of text
                shape[-1] = ("stream", content["name"], shape[-1][2] + content["text"])
            else:
                shape.append(("stream", content["name"], content["text"]))
        else:
            shape.append((kind, *sorted(content.get("data", {}))))
    return shape


# -- one output order ----------------------------------------------------------------------


def test_a_watched_cell_saves_its_outputs_in_the_order_an_unattended_run_saves_them(kernel: Kernel) -> None:
    shown: list[dict[str, Any]] = []
    watched = kernel.run(PRINTS_AND_CALLS, on_output=lambda kind, content: shown.append(content))
    # A person watching saw the live panel while it ran (it is not what the notebook keeps).
    assert any(c.get("data", {}).get(MIME_TYPE, {}).get("running") for c in shown)
    unattended = kernel.run(PRINTS_AND_CALLS, allow_stdin=False)  # nbclient, nbval
    assert _shape(watched.outputs) == _shape(unattended.outputs) == [
        ("stream", "stdout", "before\nafter 6\n"), ("display_data", "text/plain"), ("stream", "stdout", "last\n"),
        ("display_data", MIME_TYPE, "text/html", "text/plain")]
    assert watched.outputs[-1][1]["data"][MIME_TYPE] == unattended.outputs[-1][1]["data"][MIME_TYPE]


def test_an_answered_question_leaves_the_decision_in_the_report_and_nothing_else(kernel: Kernel) -> None:
    printed: list[str] = []
    cell = kernel.run(CANCEL, answer=lambda prompt, updates: "y",
                      on_output=lambda kind, content: printed.append(content.get("text", "")) if kind == "stream" else None)
    assert "needs approval" in "".join(printed)  # asked while it ran ...
    assert _shape(cell.outputs)[:-1] == [("stream", "stdout", "cancelling\ncancelled\n")]  # ... and gone once answered
    report = cell.outputs[-1][1]["data"]
    (call,) = report[MIME_TYPE]["calls"]
    assert call["approval"] == {"decision": "approved", "by": "a person (kernel stdin)"}
    assert "approved by a person (kernel stdin)" in report["text/html"]  # what nbconvert's HTML shows
    assert "approval: approved by a person (kernel stdin)" in report["text/plain"]


def test_the_persons_wait_is_the_approvals_and_the_call_keeps_its_own_time(kernel: Kernel) -> None:
    cell = kernel.run(CANCEL.replace("1030", "1029"), answer=lambda prompt, updates: "y")
    facts = cell.outputs[-1][1]["metadata"][MIME_TYPE]["calls"][0]
    assert facts["approvalWait"] > 0 and facts["duration"] >= 0
    # The call starts when it is let through: its bar begins after the person's answer, and
    # its duration is the call's own (it counted the wait before).
    assert facts["started"] >= facts["approvalWait"]


# -- approvals are part of the recording ----------------------------------------------------


class Scripted:
    """A person at the session's seam: answers from a script, and counts the questions."""

    def __init__(self, *verdicts: str) -> None:
        self.verdicts = list(verdicts)
        self.asked: list[ApprovalRequest] = []

    def ask(self, request: ApprovalRequest, timeout: float) -> Answer:
        self.asked.append(request)
        return Answer(self.verdicts.pop(0), "a person (kernel stdin)")  # type: ignore[arg-type]


CANCELS = ("from codemode import ToolError\nout = []\nfor order in (1030, 1029):\n    try:\n"
           "        out.append(demo.cancel_order(order_id=order)['status'])\n"
           "    except ToolError as e:\n        out.append(e.code)\nout")


def test_a_replay_answers_as_the_person_did_for_that_call_and_asks_for_any_other(tmp_path: Path) -> None:
    tape = tmp_path / "nb.cassette.jsonl"
    person = Scripted("once", "deny")
    with Session(demo_config(), cassette=CassetteSettings(tape, "record"), approver=person) as session:
        assert session.run(CANCELS).value == ["cancelled", "APPROVAL_DENIED"]
    decisions = [json.loads(line) for line in tape.read_text().splitlines() if '"approval"' in line]
    assert [(d["tool"], d["arguments"], d["decision"], d["scope"], d["by"]) for d in decisions] == [
        ("cancel_order", {"order_id": 1030}, "approved", "once", "a person (kernel stdin)"),
        ("cancel_order", {"order_id": 1029}, "denied", "once", "a person (kernel stdin)")]
    recorded = tape.read_bytes()

    nobody = Scripted()  # nobody may be asked: a question would fail the test
    with Session(demo_config(), cassette=CassetteSettings(tape, "replay", strict=True), approver=nobody) as session:
        report = session.run(CANCELS)
        assert report.value == ["cancelled", "APPROVAL_DENIED"]
        assert [c.payload()["approval"] for c in report.calls] == [
            {"decision": "approved", "by": "a person (kernel stdin)"},
            {"decision": "denied", "by": "a person (kernel stdin)"}]
        assert nobody.asked == [] and all(c.approval and c.approval["recorded"] for c in report.calls)
        # The same call once more: its one recorded answer is spent, so a person is asked
        # again, and there is nobody (as under nbclient): APPROVAL_REQUIRED.
        again = session.run("demo.cancel_order(order_id=1030)")
        assert again.error is not None and again.error["code"] == "APPROVAL_REQUIRED"
    with Session(demo_config(), cassette=CassetteSettings(tape, "replay", strict=True)) as session:
        other = session.run("demo.cancel_order(order_id=1028)")  # never approved: still needs a yes
        assert other.error is not None and other.error["code"] == "APPROVAL_REQUIRED"
    assert tape.read_bytes() == recorded


# -- `codemode test` is read-only -------------------------------------------------------------


def _codemode_test(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEMODE_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "codemode", "test", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=TEST_TIMEOUT)


def _execute(path: Path, **env: str) -> nbformat.NotebookNode:
    """Run a notebook as nbclient does (no person: stdin off) and save it in place."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    kernel_env = {k: v for k, v in os.environ.items() if not k.startswith("CODEMODE_")}
    kernel_env.update(PYTHONPATH=os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")])), **env)
    NotebookClient(nb, timeout=TEST_TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
                   ).execute(env=kernel_env)
    nbformat.write(nb, path)
    return nb


def test_codemode_test_takes_over_a_record_line_replays_and_writes_no_cassette(tmp_path: Path) -> None:
    book = tmp_path / "orders.ipynb"
    cells = ["%load_ext codemode", "%codemode record orders.cassette.jsonl", PRINTS_AND_CALLS]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, book)
    saved = _execute(book)  # a person's run: the notebook's line records
    assert saved.cells[1].outputs[0]["text"].startswith("codemode: recording to orders.cassette.jsonl; ")
    tape = tmp_path / "orders.cassette.jsonl"
    recorded = tape.read_bytes()

    for _ in range(2):
        done = _codemode_test(book.name, cwd=tmp_path)
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
        assert tape.read_bytes() == recorded
    assert nbformat.read(book, as_version=4) == saved  # nothing rewrites the notebook either

    # What the line says under the runner (nbval compares it through the sanitizer).
    copy = tmp_path / "copy.ipynb"
    copy.write_text(book.read_text())
    line = _execute(copy, CODEMODE_TEST_MODE="replay").cells[1].outputs[0]["text"]
    assert line.startswith("codemode: codemode test (replay) takes over %codemode record orders.cassette.jsonl: "
                           "replaying orders.cassette.jsonl (strict); ")
    assert tape.read_bytes() == recorded
