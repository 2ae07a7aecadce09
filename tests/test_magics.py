"""The notebook face in a real kernel: `%load_ext codemode`, `%codemode ...`, `%%codemode`.

Every test talks to an ipykernel started by jupyter_client, the way a notebook does, and
reads the iopub messages a front end would show. One kernel serves the module (each test
uses its own variable names); the shutdown test starts its own, since it ends it.

The kernel runs this interpreter (jupyter_client swaps the `python3` spec's `python` for
`sys.executable`), imports `codemode` from the tree under test (`PYTHONPATH`), and starts
in a private directory with no config file in reach, so the embedded demo server is the
only server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kernels import CHILD_MARKS, Execution, Kernel, children_of, stdio_demo_config
from proctable import cmdline, still_alive

from codemode.trace import MIME_TYPE

ISSUE_EXAMPLE = """\
%%codemode
orders = demo.list_orders(status="open")
total = sum(o["amount"] for o in orders)
print(f"{len(orders)} open orders")
total
"""


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    """A kernel with the extension loaded; `kernel.loaded` is what `%load_ext` showed."""
    with Kernel(tmp_path_factory.mktemp("kernel")) as kernel:
        kernel.loaded = kernel.execute("%load_ext codemode")
        yield kernel


def _payload(execution: Execution) -> dict[str, Any]:
    (report,) = execution.reports
    return report["data"][MIME_TYPE]


def _keys(data: Any) -> set[str]:
    """Every key of every object in a JSON document."""
    if isinstance(data, dict):
        return set(data) | {k for v in data.values() for k in _keys(v)}
    if isinstance(data, list):
        return {k for v in data for k in _keys(v)}
    return set()


# -- loading and looking around ----------------------------------------------------------------


def test_load_ext_registers_the_magics_quietly(kernel: Kernel) -> None:
    assert kernel.loaded.reply["status"] == "ok"
    assert kernel.loaded.outputs == []
    found = kernel.run("ip = get_ipython()\nbool(ip.find_line_magic('codemode')), bool(ip.find_cell_magic('codemode'))")
    assert found.value == "(True, True)"


def test_servers_shows_the_demo_server_connected_with_13_tools(kernel: Kernel) -> None:
    (result,) = kernel.run("%codemode servers").of("execute_result")
    text, html = result["data"]["text/plain"], result["data"]["text/html"]
    header, _, row = text.splitlines()
    assert header.split() == ["name", "config", "name", "transport", "status", "tools"]
    assert row.split() == ["demo", "demo", "stdio", "connected", "13"]
    assert "<table>" in html
    assert ">connected</td>" in html and ">13</td>" in html


def test_tools_lists_python_signatures_and_summaries(kernel: Kernel) -> None:
    (result,) = kernel.run("%codemode tools demo").of("execute_result")
    text, html = result["data"]["text/plain"], result["data"]["text/html"]
    signatures = [line for line in text.splitlines() if not line.startswith(" ")]
    assert len(signatures) == 13
    assert any(line.startswith("demo.list_orders(*, status: ") for line in signatures)
    assert "demo.search_products(*, query: str, limit: int = 5)" in text  # camelCase on the wire
    assert "    List orders with their items and amounts" in text
    assert "<code>demo.list_orders(" in html


def test_search_finds_the_order_tools_best_first(kernel: Kernel) -> None:
    (result,) = kernel.run("%codemode search orders").of("execute_result")
    names = [line.split("(")[0] for line in result["data"]["text/plain"].splitlines() if not line.startswith(" ")]
    assert names[0] == "demo.list_orders"
    assert "demo.list_customers" not in names
    assert "demo.list_orders(" in result["data"]["text/html"]


def test_search_without_a_match_says_so(kernel: Kernel) -> None:
    (result,) = kernel.run("%codemode search zebra").of("execute_result")
    assert result["data"]["text/plain"] == "no tool matches 'zebra'"


# -- running cells -------------------------------------------------------------------------------


def test_the_issue_example_prints_live_and_displays_a_report(kernel: Kernel) -> None:
    cell = kernel.run(ISSUE_EXAMPLE, allow_stdin=False)  # as nbval and nbclient run it
    assert [kind for kind, _ in cell.outputs] == ["stream", "display_data"]  # no live panel
    assert cell.updates == []  # nothing nbval does not know
    assert cell.stdout == "6 open orders\n"  # orders 1025-1030 of the demo shop are open
    (report,) = cell.reports
    payload = report["data"][MIME_TYPE]
    assert list(report["data"]) == [MIME_TYPE, "text/html", "text/plain"]
    assert payload == {
        "version": 1, "ok": True, "result": {"kind": "json", "value": 337.70000000000005},
        "calls": [{"server": "demo", "tool": "list_orders", "arguments": {"status": "open"}, "status": "ok"}],
    }  # what a reader sees; "stdout" was printed live already, not twice
    (facts,) = report["metadata"][MIME_TYPE]["calls"]
    assert [o["id"] for o in facts["result"]["value"]] == [1025, 1026, 1027, 1028, 1029, 1030]
    assert facts["resultBytes"] > 0

    text = report["data"]["text/plain"]
    assert text == 'codemode: ok · 1 tool call\n  demo.list_orders(status="open")  ok\nresult:\n337.70000000000005'
    html = report["data"]["text/html"]
    assert "<code>demo.list_orders(status=&quot;open&quot;)</code>" in html
    assert "337.70000000000005" in html and "<script" not in html
    assert "&quot;id&quot;: 1025" in html  # the tool's result, in a part the built-in sanitizer drops
    assert "tokens (" in html


def test_durations_results_and_tokens_ride_in_metadata_and_never_in_the_compared_keys(kernel: Kernel) -> None:
    (report,) = kernel.run(ISSUE_EXAMPLE).reports
    volatile = report["metadata"][MIME_TYPE]
    assert volatile["duration"] > 0 and volatile["tokens"]["code_mode_total"] > 0
    (call,) = volatile["calls"]
    assert call["duration"] > 0 and call["started"] >= 0 and isinstance(call["id"], int)
    payload = report["data"][MIME_TYPE]
    assert not _keys(payload) & {"duration", "started", "id", "resultBytes", "tokens", "progress", "logs"}
    assert not _keys(payload["calls"]) & {"result"}
    assert " ms" not in report["data"]["text/plain"] and "tokens" not in report["data"]["text/plain"]


def test_the_live_panel_shows_each_call_and_its_progress_and_becomes_the_report(kernel: Kernel) -> None:
    cell = kernel.run("%%codemode\ndemo.build_report(steps=30)\nlen(demo.list_notes())")  # 0.3 s
    live = cell.outputs[0][1]
    assert [kind for kind, _ in cell.outputs] == ["display_data"]  # the panel: never an empty output
    assert live["data"][MIME_TYPE]["running"] is True
    updates = [u for u in cell.updates if u["transient"]["display_id"] == live["transient"]["display_id"]]
    snapshots = [u["data"][MIME_TYPE] for u in updates[:-1]]
    first = live["data"][MIME_TYPE]["calls"][0]
    assert (first["tool"], first["status"]) == ("build_report", "running")
    assert all(s["running"] for s in snapshots)
    assert live["data"]["text/plain"].startswith("codemode: running · 1 tool call")  # not "ok" before anything ended
    running = [live["metadata"][MIME_TYPE]] + [u["metadata"][MIME_TYPE] for u in updates[:-1]]
    assert any(c.get("progress") for m in running for c in m["calls"])  # progress, live, in the metadata
    (report,) = cell.reports
    assert report is updates[-1]  # the panel's last state is the finished report
    assert "running" not in report["data"][MIME_TYPE]


def test_a_cell_without_tool_calls_shows_no_panel(kernel: Kernel) -> None:
    cell = kernel.run("%%codemode\nprint('hi')")
    assert cell.outputs == [("stream", {"name": "stdout", "text": "hi\n", "metadata": {}})]
    assert cell.updates == []


def test_a_failing_tool_call_shows_the_cells_traceback_not_ours(kernel: Kernel) -> None:
    cell = kernel.execute("%%codemode\ncustomer = demo.get_customer(customer_id=999)", allow_stdin=False)
    assert cell.reply["status"] == "error"
    assert [kind for kind, _ in cell.outputs] == ["display_data", "error"]
    (call,) = _payload(cell)["calls"]
    assert call["status"] == "error" and call["error"]["code"] == "UPSTREAM_ERROR"
    traceback = cell.error["traceback"]
    assert "  Cell In[" in "\n".join(traceback)  # named as IPython names a cell, by its prompt number
    assert "    customer = demo.get_customer(customer_id=999)" in traceback
    assert traceback[-1] == (
        "codemode.ToolError: demo.get_customer: no customer with id 999; "
        "list_customers() shows the ids [UPSTREAM_ERROR]"
    )
    assert sum("no customer with id 999" in line for line in traceback) == 1
    for ours in ("magics.py", "session.py", "site-packages", "interactiveshell"):
        assert ours not in cell.all_text


def test_out_binds_a_json_result_in_the_kernel(kernel: Kernel) -> None:
    kernel.run('%%codemode --out open_ids\n[o["id"] for o in demo.list_orders(status="open")]')
    assert kernel.run("open_ids, type(open_ids).__name__").value == "([1025, 1026, 1027, 1028, 1029, 1030], 'list')"


def test_out_leaves_a_result_that_is_not_json_unbound_and_says_so(kernel: Kernel) -> None:
    cell = kernel.run("%%codemode --out chart\ndemo.sales_chart()")
    assert cell.stderr == "codemode: --out chart: the result is not JSON data; nothing was bound\n"
    assert _payload(cell)["result"]["mimeType"] == "image/png"
    assert '<img alt="tool image" src="data:image/png;base64,' in cell.reports[0]["data"]["text/html"]
    assert kernel.run("'chart' in globals()").value == "False"


def test_in_makes_kernel_variables_variables_of_the_cell(kernel: Kernel) -> None:
    kernel.run("picked = [1025, 1027]\nlimit = 1")
    cell = kernel.run("%%codemode --in picked,limit\n[demo.get_order(order_id=i)['id'] for i in picked][:limit]")
    assert cell.reports[0]["data"][MIME_TYPE]["result"]["value"] == [1025]


def test_in_refuses_data_that_is_not_json_naming_it_and_the_fix(kernel: Kernel) -> None:
    kernel.run("import datetime\nwhen = {'day': datetime.date(2026, 1, 2)}")
    execution = kernel.execute("%%codemode --in when\nwhen")
    assert execution.reply["ename"] == "UsageError"
    assert "input 'when': when['day'] is a date, not JSON data; convert it first, e.g. value.isoformat()" \
        in execution.stderr
    missing = kernel.execute("%%codemode --in nowhere\n1")
    assert "--in nowhere: no such variable in the kernel" in missing.stderr


def test_progress_and_logs_appear_in_the_report(kernel: Kernel) -> None:
    cell = kernel.run("%%codemode\nreport = demo.build_report(steps=3)\naudit = demo.audit_inventory()")
    (report,) = cell.reports
    build, audit = report["metadata"][MIME_TYPE]["calls"]
    assert [p["message"] for p in build["progress"]] == ["step 1 of 3", "step 2 of 3", "step 3 of 3"]
    assert [log["level"] for log in audit["logs"]][:2] == ["info", "warning"]
    html = cell.reports[0]["data"]["text/html"]
    assert "progress 3/3 step 3 of 3" in html
    assert "\nBy month:\n" in html  # a text result reads as text, not as an escaped JSON string
    assert "log [warning] low stock: " in html


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("%%codemode --servers nope\n1", "UsageError: no server 'nope' in this session (servers: demo)"),
        ("%%codemode --timeout -1\n1", "UsageError: --timeout must be a positive number of seconds, not -1"),
        ("%%codemode --out 2x\n1", "UsageError: --out needs a Python name, not '2x'"),
        ("%%codemode --max-output 0\n1", "UsageError: --max-output must be a positive number of characters, not 0"),
        ("%%codemode --tools 'demo.get_*\n1",
         "UsageError: %%codemode --tools 'demo.get_*: No closing quotation; quote each value whole, as in a shell"),
        ("%codemode bogus", "UsageError: %codemode bogus: unknown subcommand; use one of: "
                            "servers, tools [SERVER], search QUERY [--detail names|signatures|full], "
                            "stubs [SERVER[.TOOL]], tokens, isolation, reset, config PATH, record PATH, "
                            "replay PATH [--strict], live"),
        ("%codemode tools nope", "UsageError: no server 'nope' in this session (servers: demo)"),
    ],
)
def test_a_usage_mistake_is_one_line_without_a_traceback(kernel: Kernel, cell: str, message: str) -> None:
    # IPython prints a UsageError as one stderr line, sends no `error` message, and marks
    # the reply as failed with an empty traceback.
    execution = kernel.execute(cell)
    assert execution.outputs == [("stream", {"name": "stderr", "text": message + "\n", "metadata": {}})]
    assert execution.reply["status"] == "error"
    assert execution.reply["ename"] == "UsageError"
    assert execution.reply["traceback"] == []
    assert "magics.py" not in execution.all_text


def test_a_magic_line_run_again_applies_its_flags_to_each_cell(kernel: Kernel) -> None:
    # A magic line's flags are parsed once and reused: each cell still reads its own inputs
    # and binds its own result, and a line that was refused is refused every time.
    line = "%%codemode --in seed --out doubled\nseed * 2"
    for seed in (10, 21):
        kernel.run(f"seed = {seed}")
        kernel.run(line)
        assert kernel.run("doubled").value == str(seed * 2)
    for _ in range(2):
        assert kernel.execute("%%codemode --timeout -1\n1").reply["ename"] == "UsageError"


def test_quoted_flag_values_read_as_a_shell_reads_them(kernel: Kernel) -> None:
    # IPython's own magic-argument split keeps quotes: `'demo.get_*'` allowed no tool at all.
    kernel.run("%%codemode --tools 'demo.list_*,demo.get_*' --servers \"demo\" --out got\n"
               "demo.get_order(order_id=1001)['id']")
    assert kernel.run("got").value == "1001"
    # Pre-approved, the call reaches the server, which has no such order (nothing changes).
    asked = kernel.execute("%%codemode --approve 'demo.cancel_order'\ndemo.cancel_order(order_id=999999)")
    assert "UPSTREAM_ERROR" in asked.all_text and "APPROVAL_REQUIRED" not in asked.all_text


def test_a_usage_mistake_runs_nothing(kernel: Kernel) -> None:
    kernel.execute("%%codemode --servers nope\nnever = 1")
    cell = kernel.execute("%%codemode\nnever")
    assert cell.error["traceback"][-1] == "NameError: name 'never' is not defined"


def test_timeout_interrupts_the_cell_and_keeps_its_variables(kernel: Kernel) -> None:
    cell = kernel.execute("%%codemode --timeout 1\nkept = 41\nwhile True:\n    pass")
    assert cell.reply["status"] == "error"
    traceback = cell.error["traceback"]
    assert "KeyboardInterrupt" in traceback
    assert traceback[-1] == (
        "TimeoutError: the cell ran past its 1 s limit and was interrupted (variables kept) [TIMEOUT]"
    )
    assert "magics.py" not in cell.all_text
    assert _payload(kernel.run("%%codemode\nkept + 1"))["result"]["value"] == 42


def test_reset_starts_a_fresh_worker_without_earlier_variables(kernel: Kernel) -> None:
    kernel.run("%%codemode\nforgotten = 1")
    assert kernel.run("%codemode reset").stdout == "codemode: a fresh worker is running; earlier variables are gone\n"
    cell = kernel.execute("%%codemode\nforgotten")
    assert cell.error["traceback"][-1] == "NameError: name 'forgotten' is not defined"
    fresh = kernel.run("%%codemode\ndemo.get_customer(customer_id=1)['name']")
    assert _payload(fresh)["result"]["value"] == "Anna Keller"


def test_a_kernel_interrupt_stops_the_cell_and_the_next_cell_works(kernel: Kernel) -> None:
    def interrupt_once_asleep(kind: str, content: dict[str, Any]) -> None:
        if kind == "stream" and "asleep" in content["text"]:
            kernel.manager.interrupt_kernel()

    started = time.monotonic()
    cell = kernel.execute(
        '%%codemode\nprint("asleep", flush=True)\nimport time\ntime.sleep(30)\nawake = True',
        on_output=interrupt_once_asleep,
    )
    assert time.monotonic() - started < 25  # the sleep did not run out
    assert cell.reply["status"] == "error"
    traceback = cell.error["traceback"]
    assert traceback[-1] == "KeyboardInterrupt"
    assert "    time.sleep(30)" in traceback
    assert "magics.py" not in cell.all_text
    after = kernel.run("%%codemode\n'awake' in globals(), demo.get_customer(customer_id=2)['name']")
    assert _payload(after)["result"]["value"] == [False, "Lucas Martin"]
    assert kernel.run("1 + 1").value == "2"


# -- shutting down -------------------------------------------------------------------------------


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
def test_kernel_shutdown_leaves_no_demo_server_or_worker_behind(tmp_path: Path) -> None:
    stdio_demo_config(tmp_path)  # a real stdio demo process, beside the worker
    with Kernel(tmp_path) as kernel:
        kernel.run("%load_ext codemode")
        kernel.run("%%codemode\ndemo.list_notes()")
        kernel_pid = int(kernel.run("import os\nos.getpid()").value)
        children = children_of(kernel_pid)
        marks = sorted({mark for cmd in map(cmdline, children) for mark in CHILD_MARKS if mark in cmd})  # the worker is three processes (PID namespace)
        assert marks == sorted(CHILD_MARKS), children
    assert not still_alive(children)


def test_sandbox_flags_of_a_cell_reach_its_worker_and_a_change_is_announced(kernel: Kernel, tmp_path: Path) -> None:
    kernel.run("%%codemode\nbefore_flags = 1")
    cell = kernel.run(f"%%codemode --workdir {tmp_path} --memory 1G --tools demo.list_*\n"
                      "import os\nopen('from-the-cell.txt', 'w').write('x')\n"
                      "'before_flags' in globals(), os.getcwd()")
    assert _payload(cell)["result"]["value"] == [False, str(tmp_path)]
    assert (tmp_path / "from-the-cell.txt").exists()
    assert "this cell runs in a fresh worker (the run asked for other sandbox options" in cell.stderr
    assert "memory (MiB) 4096 → 1024" in cell.stderr
    refused = kernel.execute(f"%%codemode --workdir {tmp_path} --memory 1G --tools demo.list_*\n"
                             "demo.get_order(order_id=1001)")
    assert refused.error["ename"] == "ToolError" and "TOOL_NOT_ALLOWED" in refused.error["traceback"][-1]
    assert "fresh worker" not in refused.stderr  # same options: same worker


def test_a_bad_flag_value_is_one_line(kernel: Kernel) -> None:
    cell = kernel.execute("%%codemode --memory lots\n1")
    assert cell.reply["status"] == "error"
    assert "--memory: 'lots' is not a size" in cell.all_text
    assert "Traceback" not in cell.all_text


WARMS_UP = """
import sys, time
from IPython.core.interactiveshell import InteractiveShell
from codemode.tokens import metrics
shell = InteractiveShell.instance()
shell.run_line_magic("load_ext", "codemode")
deadline = time.monotonic() + 60
while metrics._counter is None and time.monotonic() < deadline:
    time.sleep(0.05)
print("session" if "codemode.engine" in sys.modules else "no session",
      "tokenizer" if metrics._counter is not None else "no tokenizer")
"""


def test_load_ext_warms_the_session_and_the_tokenizer_before_any_cell() -> None:
    """`%load_ext` returns at once; its thread loads what the first cell needs meanwhile."""
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", WARMS_UP], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["session", "tokenizer"], done.stdout + done.stderr
