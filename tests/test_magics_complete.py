"""Tab and Shift-Tab inside `%%codemode` cells on the python3 kernel (`%load_ext codemode`):
the same answers as the `codemode` kernel gives, from the one implementation they share
(`codemode.notebook._complete`); outside such cells IPython answers as before.

A real ipykernel, asked as a notebook asks (complete_request, inspect_request).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kernels import CELL_TIMEOUT, Kernel


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    with Kernel(tmp_path_factory.mktemp("complete")) as kernel:
        kernel.run("%load_ext codemode")
        kernel.run('%%codemode\nopen_orders = demo.list_orders(status="open")')  # a worker variable
        yield kernel


def _complete(kernel: Kernel, code: str) -> dict[str, Any]:
    reply = kernel.client.complete(code, len(code), reply=True, timeout=CELL_TIMEOUT)
    content: dict[str, Any] = reply["content"]
    return content


def _inspect(kernel: Kernel, code: str, cursor: int) -> dict[str, Any]:
    reply = kernel.client.inspect(code, cursor, reply=True, timeout=CELL_TIMEOUT)
    content: dict[str, Any] = reply["content"]
    return content


def test_tab_after_a_server_gives_its_tools(kernel: Kernel) -> None:
    code = "%%codemode\nrows = demo.list_ord"
    found = _complete(kernel, code)
    assert found["matches"] == ["list_orders"]
    assert found["cursor_start"] == len(code) - len("list_ord") and found["cursor_end"] == len(code)


def test_tab_in_a_call_gives_its_argument_names(kernel: Kernel) -> None:
    code = "%%codemode\ndemo.get_order(ord"
    assert _complete(kernel, code)["matches"] == ["order_id="]


def test_tab_on_a_name_gives_servers_and_the_workers_variables(kernel: Kernel) -> None:
    assert "demo" in _complete(kernel, "%%codemode\nde")["matches"]
    assert "open_orders" in _complete(kernel, "%%codemode\nopen_")["matches"]


def test_shift_tab_on_a_tool_gives_its_stub(kernel: Kernel) -> None:
    code = "%%codemode\ndemo.get_order(order_id=1001)"
    found = _inspect(kernel, code, code.index("get_order") + 3)
    assert found["found"] and "def get_order(" in found["data"]["text/plain"]


def test_plain_cells_keep_ipythons_own_answers(kernel: Kernel) -> None:
    assert "path" in _complete(kernel, "import os\nos.pa")["matches"]
    assert "demo" not in _complete(kernel, "de")["matches"]  # no server in a plain cell
    assert _inspect(kernel, "len", 2)["found"]
    assert not _inspect(kernel, "demo.get_order", 8)["found"]
