"""The `codemode` kernel, started by jupyter_client from its installed kernel spec.

Plain cells run in code mode; `%%local` / `%%python` cells and magics run in the kernel;
completion and inspection answer from the session; interrupt, restart and shutdown leave a
usable kernel and no stray process. The kernel starts in a private directory with no config
file in reach, so the embedded demo server is its only server.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from kernels import CHILD_MARKS, Kernel, children_of, stdio_demo_config
from proctable import cmdline, still_alive

from codemode.trace import MIME_TYPE


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    with Kernel(tmp_path_factory.mktemp("codemode-kernel"), kernel_name="codemode") as kernel:
        yield kernel


def _complete(kernel: Kernel, code: str, cursor: int | None = None) -> dict[str, Any]:
    msg_id = kernel.client.complete(code, len(code) if cursor is None else cursor)
    return _reply(kernel, msg_id)


def _inspect(kernel: Kernel, code: str, cursor: int) -> dict[str, Any]:
    msg_id = kernel.client.inspect(code, cursor)
    return _reply(kernel, msg_id)


def _reply(kernel: Kernel, msg_id: str) -> dict[str, Any]:
    while True:
        reply = kernel.client.get_shell_msg(timeout=60)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply["content"]


def _report(cell: Any) -> dict[str, Any]:
    (report,) = cell.reports
    return report["data"][MIME_TYPE]


def test_the_wheel_ships_the_kernel_spec() -> None:
    spec = KernelSpecManager().get_kernel_spec("codemode")
    assert spec.display_name == "Python 3 (Code Mode)"
    assert spec.argv[1:3] == ["-m", "codemode.kernel"] and spec.language == "python"
    assert spec.interrupt_mode == "signal"


def test_kernel_info_names_the_implementation(kernel: Kernel) -> None:
    msg_id = kernel.client.kernel_info()
    info = _reply(kernel, msg_id)
    assert info["implementation"] == "codemode"
    assert info["language_info"]["name"] == "python"
    assert "%%local" in info["banner"]


def test_a_plain_cell_runs_in_code_mode_and_shows_its_report(kernel: Kernel) -> None:
    cell = kernel.run('orders = demo.list_orders(status="open")\nprint(len(orders), "open")\nlen(orders)')
    assert cell.stdout == "6 open\n"
    payload = _report(cell)
    assert payload["result"] == {"kind": "json", "value": 6}
    assert [(c["server"], c["tool"], c["status"]) for c in payload["calls"]] == [("demo", "list_orders", "ok")]


def test_code_mode_variables_persist_in_the_worker_not_in_the_kernel(kernel: Kernel) -> None:
    kernel.run("kept = [1, 2, 3]")
    assert _report(kernel.run("sum(kept)"))["result"]["value"] == 6
    assert kernel.run("%%local\n'kept' in globals()").value == "False"


@pytest.mark.parametrize("magic", ["%%local", "%%python"])
def test_local_cells_run_in_the_kernel_itself(kernel: Kernel, magic: str) -> None:
    here = kernel.run(f"{magic}\nimport os\nos.getpid()").value
    kernel_pid = kernel.manager.provisioner.process.pid  # type: ignore[union-attr]
    assert int(here) == kernel_pid
    sandboxed = _report(kernel.run("import os\nos.getpid()"))["result"]["value"]
    assert sandboxed != kernel_pid


def test_line_magics_and_shell_escapes_run_in_the_kernel(kernel: Kernel) -> None:
    cell = kernel.run("%codemode tools demo")
    assert "demo.list_orders(" in cell.value
    assert kernel.run("!echo from-the-shell").stdout.strip() == "from-the-shell"


def test_an_explicit_codemode_cell_keeps_its_options(kernel: Kernel) -> None:
    cell = kernel.execute("%%codemode --tools demo.list_*\ndemo.get_customer(customer_id=1)")
    assert cell.reply["status"] == "error"
    assert cell.error["ename"] == "ToolError"
    assert _report(cell)["calls"][0]["error"]["code"] == "TOOL_NOT_ALLOWED"


def test_a_failing_cell_reports_the_sandboxed_traceback(kernel: Kernel) -> None:
    cell = kernel.execute("1 / 0")
    assert cell.reply["status"] == "error"
    assert cell.error["ename"] == "ZeroDivisionError"
    assert "kernel" not in "".join(cell.error["traceback"]).lower().replace("codemode kernel", "")


# -- completion and inspection ---------------------------------------------------------------------


def test_tools_complete_after_a_server(kernel: Kernel) -> None:
    reply = _complete(kernel, "x = demo.list_o")
    assert reply["matches"] == ["list_orders"]
    assert (reply["cursor_start"], reply["cursor_end"]) == (len("x = demo."), len("x = demo.list_o"))
    (kind,) = reply["metadata"]["_jupyter_types_experimental"]
    assert kind["type"] == "function" and kind["signature"].startswith("list_orders(*, status")


def test_argument_names_complete_inside_a_tool_call(kernel: Kernel) -> None:
    reply = _complete(kernel, "demo.list_orders(")
    assert "status=" in reply["matches"] and "customer_id=" in reply["matches"]
    reply = _complete(kernel, 'demo.list_orders(status="open", cu')
    assert reply["matches"] == ["customer_id="]
    assert "status=" not in _complete(kernel, 'demo.list_orders(status="open", ')["matches"]


def test_servers_and_the_workers_variables_complete_at_top_level(kernel: Kernel) -> None:
    kernel.run("delivery_window = 3")
    assert "demo" in _complete(kernel, "de")["matches"]
    assert "delivery_window" in _complete(kernel, "deliv")["matches"]
    assert "print" in _complete(kernel, "pri")["matches"]


def test_attributes_of_the_workers_variables_complete(kernel: Kernel) -> None:
    kernel.run("shipment = {'box': 1}\nimport json as codec")
    assert _complete(kernel, "shipment.ke")["matches"] == ["keys"]
    reply = _complete(kernel, "x = codec.dum")
    assert reply["matches"] == ["dump", "dumps"] and reply["cursor_start"] == len("x = codec.")


def test_completion_in_the_codemode_body_of_an_explicit_cell(kernel: Kernel) -> None:
    code = "%%codemode --timeout 5\ndemo.get_cu"
    reply = _complete(kernel, code)
    assert reply["matches"] == ["get_customer"] and reply["cursor_start"] == len(code) - len("get_cu")


def test_local_cells_complete_from_the_kernels_namespace(kernel: Kernel) -> None:
    reply = _complete(kernel, "%%local\nimport os\nos.pa")
    assert "path" in reply["matches"] or "os.path" in reply["matches"]


def test_inspecting_a_tool_shows_its_stub(kernel: Kernel) -> None:
    code = 'demo.list_orders(status="open")'
    reply = _inspect(kernel, code, code.index("orders") + 2)
    assert reply["found"] is True
    text = reply["data"]["text/plain"]
    assert "def list_orders(" in text and "status" in text
    inside = _inspect(kernel, code, code.index('"open"'))
    assert inside["found"] and "def list_orders(" in inside["data"]["text/plain"]
    assert _inspect(kernel, "nothing_here", 3)["found"] is False


def test_a_question_mark_pages_the_tools_help(kernel: Kernel) -> None:
    cell = kernel.run("demo.get_customer?")
    (page,) = cell.reply["payload"]
    assert page["source"] == "page" and "def get_customer(" in page["data"]["text/plain"]
    (server,) = kernel.run("demo?").reply["payload"]
    assert "demo.list_orders(" in server["data"]["text/plain"]


# -- interrupt, restart, shutdown ------------------------------------------------------------------


def test_the_stop_button_interrupts_the_sandboxed_cell_and_the_kernel_stays_usable(kernel: Kernel) -> None:
    def interrupt_once_asleep(kind: str, content: dict[str, Any]) -> None:
        if kind == "stream" and "asleep" in content["text"]:
            kernel.manager.interrupt_kernel()

    started = time.monotonic()
    cell = kernel.execute('import time\nprint("asleep", flush=True)\ntime.sleep(30)\nwoke = True',
                          on_output=interrupt_once_asleep)
    assert time.monotonic() - started < 25
    assert cell.reply["status"] == "error" and cell.error["ename"] == "KeyboardInterrupt"
    after = kernel.run("'woke' in globals(), demo.get_customer(customer_id=2)['name']")
    assert _report(after)["result"]["value"] == [False, "Lucas Martin"]  # servers survived it


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
def test_a_restart_leaves_no_worker_or_server_behind(tmp_path: Path) -> None:
    stdio_demo_config(tmp_path)  # a real stdio demo process, beside the worker
    with Kernel(tmp_path, kernel_name="codemode") as kernel:
        kernel.run("demo.list_notes()")
        before = children_of(kernel.manager.provisioner.process.pid)  # type: ignore[union-attr]
        marks = sorted({mark for cmd in map(cmdline, before) for mark in CHILD_MARKS if mark in cmd})  # the worker is three processes (PID namespace)
        assert marks == sorted(CHILD_MARKS), before
        kernel.manager.restart_kernel(now=False)
        kernel.client.wait_for_ready(timeout=60)
        assert not still_alive(before)
        assert _report(kernel.run("len(demo.list_notes())"))["result"]["value"] > 0


def test_codemode_kernel_install_writes_a_spec_that_runs_this_python(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "codemode.cli", "kernel", "install", "--prefix", str(tmp_path)],
                          capture_output=True, text=True, timeout=60, check=True)
    spec_file = tmp_path / "share" / "jupyter" / "kernels" / "codemode" / "kernel.json"
    assert str(spec_file.parent) in done.stdout
    spec = json.loads(spec_file.read_text())
    assert spec["argv"][:3] == [sys.executable, "-m", "codemode.kernel"]
    assert spec["display_name"] == "Python 3 (Code Mode)"
