"""The report as a data person reads it (issue 26): server names that cannot be lost, every
attempted call in the timeline, tracebacks named as IPython names a cell, an interrupted cell
said as such, token bars that fold, and articles that fit their word.

A real session on the demo server, and a real kernel where the notebook matters.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kernels import Kernel

from codemode.config import demo_config, parse_config
from codemode.engine import Session
from codemode.shared.words import a_or_an
from codemode.trace import MIME_TYPE


@pytest.fixture(scope="module")
def session() -> Iterator[Session]:
    with Session(demo_config()) as session:
        yield session


# -- server names cannot be lost -------------------------------------------------------------


def test_a_variable_that_hides_a_server_is_said_and_the_server_stays_reachable(session: Session) -> None:
    hidden = session.run("import json as demo")  # `import time` over a `time` server, in short
    assert hidden.notices == ("'demo' is a module now, not the demo server; the server is still codemode.servers['demo']",)
    assert "note: 'demo' is a module now" in repr(hidden) and "codemode-notice" in hidden._repr_mimebundle_()[0]["text/html"]
    failed = session.run("demo.list_orders()")
    assert failed.error is not None
    assert failed.error["message"] == ("module 'json' has no attribute 'list_orders'; 'demo' is a module now, not the demo "
                                       "server (a cell set it); the server is still there: "
                                       "codemode.servers['demo'].list_orders(...)")
    assert failed.error["traceback"].rstrip().endswith("codemode.servers['demo'].list_orders(...)")
    assert session.run("len(codemode.servers['demo'].list_orders(status='open'))").value == 6
    assert session.run("x = 1").notices == ()  # said once, by the cell that hid it
    session.run("demo = codemode.servers['demo']")


# -- every attempted call -------------------------------------------------------------------------


def test_calls_refused_in_the_worker_are_in_the_timeline_too(session: Session) -> None:
    code = ("from codemode import ToolError\nfor attempt in (lambda: demo.get_order(order_id='x'), lambda: demo.get_order(1001)):\n"
            "    try:\n        attempt()\n    except ToolError as e:\n        print(e.code)\n"
            "demo.get_order(order_id=1001)['id']")
    report = session.run(code)
    assert report.stdout == "INVALID_ARGUMENTS\nINVALID_ARGUMENTS\n" and report.value == 1001
    assert [(c.tool, c.arguments, c.error_code) for c in report.calls] == [
        ("get_order", {"order_id": "x"}, "INVALID_ARGUMENTS"), ("get_order", {}, "INVALID_ARGUMENTS"),
        ("get_order", {"order_id": 1001}, None)]
    assert repr(report).startswith("codemode: ok · 3 tool calls (2 failed)")


# -- words and folds ------------------------------------------------------------------------------


def test_articles_fit_their_words(session: Session) -> None:
    assert [a_or_an(w) for w in ("int64", "module", "uint8", "object", "str")] == [
        "an int64", "a module", "a uint8", "an object", "a str"]
    report = session.run("import numpy\ndemo.list_orders()\nnumpy.int64(5)")
    assert "result (repr of an int64)" in report._repr_mimebundle_()[0]["text/html"]


def test_show_tokens_false_folds_the_token_bars(tmp_path: Path) -> None:
    data = {"mcpServers": {"demo": demo_config().servers["demo"].model_dump(exclude_defaults=True)},
            "codemode": {"showTokens": False}}
    with Session(parse_config(data, source=None)) as folded:
        data, metadata = folded.run("demo.list_orders()")._repr_mimebundle_()
    assert metadata[MIME_TYPE]["showTokens"] is False
    assert '<details class="codemode-tokens-folded"><summary>tokens</summary><div class="codemode-tokens"' in data["text/html"]


# -- in a notebook ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    with Kernel(tmp_path_factory.mktemp("reading")) as kernel:
        kernel.run("%load_ext codemode")
        yield kernel


def test_tracebacks_name_cells_as_ipython_does(kernel: Kernel) -> None:
    defined = kernel.run("%%codemode\ndef ratio(orders):\n    return len(orders) / 0")
    cell = kernel.execute("%%codemode\nopen_orders = demo.list_orders(status='open')\nratio(open_orders)",
                          allow_stdin=False)
    count, earlier = cell.reply["execution_count"], defined.reply["execution_count"]
    assert cell.error["traceback"][1:5] == [f"  Cell In[{count}], line 2", "    ratio(open_orders)",
                                            f"  Cell In[{earlier}], line 2, in ratio", "    return len(orders) / 0"]


def test_an_interrupted_cell_says_interrupted(kernel: Kernel) -> None:
    code = "%%codemode\ndemo.list_orders()\nimport time\nprint('waiting', flush=True)\ntime.sleep(120)"

    def interrupt_once_waiting(kind: str, content: dict[str, Any]) -> None:
        if kind == "stream" and "waiting" in content.get("text", ""):
            kernel.manager.interrupt_kernel()

    cell = kernel.execute(code, allow_stdin=False, on_output=interrupt_once_waiting)
    report = cell.outputs[-2][1]["data"]
    assert report[MIME_TYPE]["interrupted"] is True
    assert report["text/plain"].startswith("codemode: interrupted · 1 tool call")
    assert cell.error["ename"] == "KeyboardInterrupt"
