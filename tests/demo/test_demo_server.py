"""The demo MCP server, driven through the SDK's own client: in process, and once over stdio."""

from __future__ import annotations

import base64
import json
import logging
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp_types import (
    CallToolResult,
    ImageContent,
    LoggingMessageNotificationParams,
    TextContent,
)

import codemode
from codemode.demo import build_server, main

TOOL_NAMES = [
    "list_customers",
    "get_customer",
    "list_products",
    "list_orders",
    "get_order",
    "sales_summary",
    "list_notes",
    "read_note",
    "sales_chart",
    "build_report",
    "audit_inventory",
    "cancel_order",
    "searchProducts",
]
STDIO_TIMEOUT = 30
"""Seconds for a server subprocess to start, answer and exit; a cold interpreter needs ~1 s."""
SRC_DIR = str(Path(codemode.__file__).resolve().parent.parent)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def call(name: str, arguments: dict[str, Any] | None = None, **client_options: Any) -> CallToolResult:
    """Call one tool on a fresh demo server."""
    async with Client(build_server(), **client_options) as client:
        return await client.call_tool(name, arguments or {})


def structured_list(result: CallToolResult) -> list[dict[str, Any]]:
    """The records of a list-returning tool (the SDK wraps a list as {"result": [...]})."""
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content["result"]


def text_of(result: CallToolResult) -> str:
    [content] = result.content
    assert isinstance(content, TextContent)
    return content.text


# -- the tool list -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_server_lists_all_thirteen_tools_in_a_fixed_order() -> None:
    async with Client(build_server()) as client:
        tools = (await client.list_tools()).tools
        assert client.server_info is not None and client.server_info.name == "demo"
        assert client.instructions
    assert [tool.name for tool in tools] == TOOL_NAMES


@pytest.mark.anyio
async def test_cancel_order_alone_is_marked_destructive() -> None:
    async with Client(build_server()) as client:
        tools = (await client.list_tools()).tools
    wire = {t.name: t.model_dump(by_alias=True, mode="json", exclude_none=True) for t in tools}
    assert wire["cancel_order"]["annotations"]["destructiveHint"] is True
    assert [name for name, t in wire.items() if t["annotations"].get("destructiveHint")] == ["cancel_order"]
    assert wire["get_customer"]["annotations"]["readOnlyHint"] is True


@pytest.mark.anyio
async def test_every_tool_has_a_description_and_every_argument_one_too() -> None:
    async with Client(build_server()) as client:
        tools = (await client.list_tools()).tools
    for tool in tools:
        assert tool.description and not tool.description.startswith(" "), tool.name
        for argument, schema in tool.input_schema.get("properties", {}).items():
            assert schema.get("description"), f"{tool.name}({argument})"


@pytest.mark.anyio
async def test_list_orders_has_one_required_free_signature_with_an_enum_status() -> None:
    async with Client(build_server()) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    schema = tools["list_orders"].input_schema
    assert schema.get("required", []) == []
    assert schema["properties"]["limit"]["default"] == 50
    assert {"enum": ["open", "shipped", "cancelled"], "type": "string"} in schema["properties"]["status"]["anyOf"]
    assert tools["get_customer"].input_schema["required"] == ["customer_id"]
    assert tools["searchProducts"].input_schema["required"] == ["query"]


@pytest.mark.anyio
async def test_sales_summary_declares_an_output_schema_its_result_follows() -> None:
    async with Client(build_server()) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        result = await client.call_tool("sales_summary", {"group_by": "month"})
    schema = tools["sales_summary"].output_schema
    assert schema is not None
    assert set(schema["required"]) == {"group_by", "currency", "rows", "total_revenue"}
    summary = result.structured_content
    assert summary is not None
    assert summary["group_by"] == "month" and summary["currency"] == "EUR"
    assert [row["key"] for row in summary["rows"]] == sorted(row["key"] for row in summary["rows"])
    assert json.loads(text_of(result)) == summary


# -- data and queries --------------------------------------------------------------------


@pytest.mark.anyio
async def test_list_orders_filters_by_status_and_customer_and_sorts_by_id() -> None:
    async with Client(build_server()) as client:
        every = structured_list(await client.call_tool("list_orders", {}))
        shipped = structured_list(await client.call_tool("list_orders", {"status": "shipped", "customer_id": 7}))
        first_two = structured_list(await client.call_tool("list_orders", {"limit": 2}))
    assert len(every) == 30
    assert [o["id"] for o in every] == sorted(o["id"] for o in every)
    assert {o["status"] for o in every} == {"open", "shipped", "cancelled"}
    assert shipped and all(o["status"] == "shipped" and o["customer_id"] == 7 for o in shipped)
    assert [o["id"] for o in shipped] == [o["id"] for o in every if o["status"] == "shipped" and o["customer_id"] == 7]
    assert first_two == every[:2]


@pytest.mark.anyio
async def test_list_orders_rejects_an_unknown_status() -> None:
    result = await call("list_orders", {"status": "lost"})
    assert result.is_error


@pytest.mark.anyio
async def test_every_order_amount_is_the_sum_of_its_items_and_items_name_real_products() -> None:
    async with Client(build_server()) as client:
        orders = structured_list(await client.call_tool("list_orders", {"limit": 1000}))
        products = {p["id"] for p in structured_list(await client.call_tool("list_products", {}))}
        customers = {c["id"] for c in structured_list(await client.call_tool("list_customers", {}))}
    for order in orders:
        assert order["items"], order["id"]
        assert order["amount"] == round(sum(i["quantity"] * i["unit_price"] for i in order["items"]), 2)
        assert {i["product_id"] for i in order["items"]} <= products
        assert order["customer_id"] in customers
        assert order["created"].startswith("2026-")


@pytest.mark.anyio
async def test_list_customers_filters_by_country_ignoring_case() -> None:
    async with Client(build_server()) as client:
        everyone = structured_list(await client.call_tool("list_customers", {}))
        germans = structured_list(await client.call_tool("list_customers", {"country": "de"}))
    assert len(everyone) == 8
    assert germans and {c["country"] for c in germans} == {"DE"}
    assert len(germans) == sum(c["country"] == "DE" for c in everyone)


@pytest.mark.anyio
async def test_list_products_filters_by_category_and_max_price() -> None:
    result = await call("list_products", {"category": "Coffee", "max_price": 20})
    products = structured_list(result)
    assert products and all(p["category"] == "coffee" and p["price"] <= 20 for p in products)
    assert len(structured_list(await call("list_products"))) == 10


@pytest.mark.anyio
async def test_get_customer_returns_the_record_as_structured_content() -> None:
    result = await call("get_customer", {"customer_id": 1})
    assert not result.is_error
    assert result.structured_content == {
        "id": 1,
        "name": "Anna Keller",
        "email": "anna.keller@example.de",
        "country": "DE",
        "since": "2023-04-12",
    }


@pytest.mark.anyio
async def test_get_customer_with_an_unknown_id_is_a_tool_error_that_names_the_fix() -> None:
    result = await call("get_customer", {"customer_id": 999})
    assert result.is_error is True
    assert "no customer with id 999; list_customers() shows the ids" in text_of(result)


@pytest.mark.anyio
async def test_get_order_finds_an_order_and_refuses_an_unknown_id() -> None:
    async with Client(build_server()) as client:
        found = await client.call_tool("get_order", {"order_id": 1001})
        missing = await client.call_tool("get_order", {"order_id": 1})
    assert found.structured_content is not None and found.structured_content["id"] == 1001
    assert missing.is_error is True


@pytest.mark.anyio
async def test_search_products_matches_name_sku_and_category_ignoring_case_up_to_limit() -> None:
    async with Client(build_server()) as client:
        by_name = structured_list(await client.call_tool("searchProducts", {"query": "KETTLE"}))
        by_sku = structured_list(await client.call_tool("searchProducts", {"query": "cf-eth"}))
        by_category = structured_list(await client.call_tool("searchProducts", {"query": "coffee", "limit": 2}))
        nothing = structured_list(await client.call_tool("searchProducts", {"query": "zzz"}))
    assert [p["sku"] for p in by_name] == ["EQ-KTL-08"]
    assert [p["sku"] for p in by_sku] == ["CF-ETH-250"]
    assert len(by_category) == 2 and all(p["category"] == "coffee" for p in by_category)
    assert nothing == []


@pytest.mark.anyio
async def test_sales_summary_counts_only_orders_that_are_not_cancelled() -> None:
    async with Client(build_server()) as client:
        orders = structured_list(await client.call_tool("list_orders", {"limit": 1000}))
        summaries = [
            (await client.call_tool("sales_summary", {"group_by": group})).structured_content
            for group in ("month", "product", "customer")
        ]
    counted = [o for o in orders if o["status"] != "cancelled"]
    expected = round(sum(o["amount"] for o in counted), 2)
    for summary in summaries:
        assert summary is not None
        assert summary["total_revenue"] == expected
        assert round(sum(row["revenue"] for row in summary["rows"]), 2) == expected
    by_month = summaries[0]
    assert by_month is not None and sum(row["orders"] for row in by_month["rows"]) == len(counted)


# -- notes, chart, progress and logs -----------------------------------------------------


@pytest.mark.anyio
async def test_read_note_returns_markdown_and_an_unknown_name_lists_the_notes() -> None:
    async with Client(build_server()) as client:
        names = (await client.call_tool("list_notes", {})).structured_content
        shipping = await client.call_tool("read_note", {"name": "shipping"})
        with_suffix = await client.call_tool("read_note", {"name": "shipping.md"})
        missing = await client.call_tool("read_note", {"name": "../shop.json"})
    assert names == {"result": ["q1-review", "returns-policy", "shipping", "supplier-contacts"]}
    assert text_of(shipping).startswith("# Shipping\n")
    assert text_of(with_suffix) == text_of(shipping)
    assert missing.is_error is True
    assert "q1-review, returns-policy, shipping, supplier-contacts" in text_of(missing)


@pytest.mark.anyio
async def test_sales_chart_returns_the_same_320_by_160_png_every_time() -> None:
    async with Client(build_server()) as client:
        first = await client.call_tool("sales_chart", {})
        again = await client.call_tool("sales_chart", {"group_by": "month"})
        by_product = await client.call_tool("sales_chart", {"group_by": "product"})
    [image] = first.content
    assert isinstance(image, ImageContent)
    assert image.mime_type == "image/png"
    png = base64.b64decode(image.data)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert png[12:16] == b"IHDR" and struct.unpack(">II", png[16:24]) == (320, 160)
    assert png.endswith(b"IEND\xaeB`\x82")
    assert again.content == first.content
    assert by_product.content != first.content


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_build_report_reports_progress_for_each_step_then_returns_text(mode: str) -> None:
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total, message))

    async with Client(build_server(), mode=mode) as client:
        result = await client.call_tool("build_report", {"steps": 3}, progress_callback=on_progress)
        summary = (await client.call_tool("sales_summary", {})).structured_content
    assert progress == [(1, 3, "step 1 of 3"), (2, 3, "step 2 of 3"), (3, 3, "step 3 of 3")]
    report = text_of(result)
    assert report.startswith("Sales report: Ember & Oak Coffee\n")
    assert summary is not None and f"EUR {summary['total_revenue']:,.2f}" in report


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_audit_inventory_logs_info_and_one_warning_per_low_stock_product(mode: str) -> None:
    logs: list[LoggingMessageNotificationParams] = []

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        logs.append(params)

    async with Client(build_server(), mode=mode, logging_callback=on_log, log_level="info") as client:
        result = await client.call_tool("audit_inventory", {})
        products = structured_list(await client.call_tool("list_products", {}))
    low = [p for p in products if p["stock"] < 5]
    warnings = [entry.data for entry in logs if entry.level == "warning"]
    assert len(warnings) == len(low) == 4
    assert all(p["sku"] in message for p, message in zip(low, warnings, strict=True))
    assert [entry.level for entry in logs] == ["info", *["warning"] * 4, "info"]
    assert text_of(result).startswith("10 products checked; 4 below 5 units:")


# -- state ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_cancel_order_cancels_an_open_order_in_that_server_only() -> None:
    async with Client(build_server()) as client:
        [first_open, *_] = structured_list(await client.call_tool("list_orders", {"status": "open"}))
        cancelled = await client.call_tool("cancel_order", {"order_id": first_open["id"]})
        after = await client.call_tool("get_order", {"order_id": first_open["id"]})
        twice = await client.call_tool("cancel_order", {"order_id": first_open["id"]})
    assert cancelled.structured_content == {**first_open, "status": "cancelled"}
    assert after.structured_content == cancelled.structured_content
    assert twice.is_error is True
    fresh = await call("get_order", {"order_id": first_open["id"]})
    assert fresh.structured_content == first_open


@pytest.mark.anyio
async def test_cancel_order_refuses_a_shipped_order() -> None:
    async with Client(build_server()) as client:
        [shipped, *_] = structured_list(await client.call_tool("list_orders", {"status": "shipped"}))
        result = await client.call_tool("cancel_order", {"order_id": shipped["id"]})
        after = await client.call_tool("get_order", {"order_id": shipped["id"]})
    assert result.is_error is True
    assert "only open orders can be cancelled" in text_of(result)
    assert after.structured_content == shipped


# -- the package and the process -----------------------------------------------------------


def test_building_a_server_leaves_the_root_logger_alone() -> None:
    root = logging.getLogger()
    before = (root.level, list(root.handlers))
    build_server()
    assert (root.level, list(root.handlers)) == before


def test_importing_codemode_demo_does_not_import_the_mcp_sdk() -> None:
    probe = "import sys, codemode.demo; print(sorted(m for m in ('mcp', 'pydantic') if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PYTHONPATH": SRC_DIR},
        capture_output=True,
        text=True,
        check=True,
        timeout=STDIO_TIMEOUT,
    ).stdout
    assert out.strip() == "[]"


def test_help_names_both_transports(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    assert "stdio" in help_text and "streamable-http" in help_text


@pytest.mark.anyio
async def test_python_m_codemode_demo_serves_over_stdio_and_keeps_stderr_quiet(tmp_path: Path) -> None:
    params = StdioServerParameters(command=sys.executable, args=["-m", "codemode.demo"], env={"PYTHONPATH": SRC_DIR})
    errlog_path = tmp_path / "server.err"
    with errlog_path.open("w") as errlog, anyio.fail_after(STDIO_TIMEOUT):
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            names = [tool.name for tool in (await client.list_tools()).tools]
            result = await client.call_tool("get_customer", {"customer_id": 999})
    assert names == TOOL_NAMES
    assert result.is_error is True
    assert errlog_path.read_text() == ""
