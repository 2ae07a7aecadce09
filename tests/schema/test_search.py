"""Searching tools (BM25 over names, descriptions and parameters) and showing the hits."""

from __future__ import annotations

import ast
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import codemode.schema
from codemode.schema import Hit, ToolDef, render_hits, search_tools
from codemode.schema._search import _strip_suffixes

ORDER: dict[str, Any] = {
    "type": "object",
    "title": "Order",
    "properties": {
        "id": {"type": "integer", "title": "Id"},
        "customer_id": {"type": "integer", "title": "Customer Id"},
        "status": {"enum": ["open", "shipped", "cancelled"], "type": "string", "title": "Status"},
        "amount": {"type": "number", "title": "Amount", "description": "Total in EUR."},
    },
    "required": ["id", "customer_id", "status", "amount"],
}


def _args(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required)}


def _optional(kind: str, description: str) -> dict[str, Any]:
    return {"anyOf": [{"type": kind}, {"type": "null"}], "default": None, "description": description}


def _returns(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {"result": schema}, "required": ["result"], "x-wrapped": True}


def _demo(name: str, description: str, properties: dict[str, Any] | None = None,
          required: tuple[str, ...] = (), **extra: Any) -> ToolDef:
    return ToolDef("demo", name, description, _args(properties or {}, required), **extra)


# The demo server's thirteen tools, as its tools/list gives them (output schemas trimmed).
DEMO = [
    _demo("list_customers", "List the shop's customers, sorted by id, optionally only those in one country.",
          {"country": _optional("string", "Only customers in this country (ISO code such as 'DE'; any case).")}),
    _demo("get_customer", "Get one customer by id. An unknown id is a tool error.",
          {"customer_id": {"type": "integer", "description": "The customer's id."}}, ("customer_id",)),
    _demo("list_products", "List the product catalogue with prices and stock, sorted by id.",
          {"category": _optional("string", "Only this category: 'coffee', 'tea', 'equipment' or 'accessories'."),
           "max_price": _optional("number", "Only products costing at most this (EUR).")}),
    _demo("list_orders", "List orders with their items and amounts, sorted by id, optionally filtered.",
          {"status": {"anyOf": [{"enum": ["open", "shipped", "cancelled"], "type": "string"}, {"type": "null"}],
                      "default": None, "description": "Only orders with this status."},
           "customer_id": _optional("integer", "Only orders of this customer."),
           "limit": {"type": "integer", "default": 50, "description": "Return at most this many orders."}},
          output_schema={"$defs": {"Order": ORDER}, "type": "object", "required": ["result"],
                         "properties": {"result": {"type": "array", "items": {"$ref": "#/$defs/Order"}}}}),
    _demo("get_order", "Get one order with its items by id. An unknown id is a tool error.",
          {"order_id": {"type": "integer", "description": "The order's id, e.g. 1001."}}, ("order_id",),
          output_schema=ORDER),
    _demo("sales_summary", "Summarise revenue (EUR) of all orders that are not cancelled, grouped.\n\n"
          "Rows for months come in calendar order (keys like '2026-01'); rows for products and\n"
          "customers are keyed by name, largest revenue first.",
          {"group_by": {"type": "string", "enum": ["month", "product", "customer"], "default": "month",
                        "description": "How to group the revenue."}}),
    _demo("list_notes", "List the names of the shop's internal notes (policies, reviews, contacts)."),
    _demo("read_note", "Read one internal note as markdown text. An unknown name is a tool error.",
          {"name": {"type": "string", "description": "The note's name as list_notes() gives it, e.g. 'shipping'."}},
          ("name",)),
    _demo("sales_chart", "Draw revenue as a PNG bar chart (320x160, no labels), in sales_summary's order.",
          {"group_by": {"type": "string", "enum": ["month", "product"], "default": "month",
                        "description": "One bar per month, or per product."}}),
    _demo("build_report", "Build a plain-text sales report, reporting progress after each of `steps` stages.",
          {"steps": {"type": "integer", "default": 4, "description": "How many stages to report progress for."}}),
    _demo("audit_inventory", "Check stock of every product; log a warning for each with fewer than 5 units left."),
    _demo("cancel_order", "Cancel an open order and return it. Shipped or already cancelled orders are a tool error.",
          {"order_id": {"type": "integer", "description": "The id of an open order."}}, ("order_id",),
          annotations={"destructiveHint": True}, output_schema=ORDER),
    _demo("searchProducts", "Search products by a case-insensitive substring of name, SKU or category.",
          {"query": {"type": "string", "description": "Text to find in name, SKU or category (any case)."},
           "limit": {"type": "integer", "default": 5, "description": "Return at most this many products."}},
          ("query",)),
]

# A few tools of a filesystem server, as the reference server describes them.
FILESYSTEM = [
    ToolDef("filesystem", "read_file", "Read the complete contents of a file from the file system.",
            _args({"path": {"type": "string"}}, ("path",))),
    ToolDef("filesystem", "write_file", "Create a new file or completely overwrite an existing file with new content.",
            _args({"path": {"type": "string"}, "content": {"type": "string"}}, ("path", "content"))),
    ToolDef("filesystem", "list_directory", "Get a detailed listing of all files and directories in a specified path.",
            _args({"path": {"type": "string"}}, ("path",))),
]

PY_NAMES = {"searchProducts": "search_products"}
ENTRIES = [("demo", PY_NAMES.get(t.name, t.name), t) for t in DEMO] + [("fs", t.name, t) for t in FILESYSTEM]


def _names(query: str, limit: int = 10) -> list[str]:
    return [f"{hit.server}.{hit.name}" for hit in search_tools(ENTRIES, query, limit=limit)]


def test_a_plural_finds_the_tools_named_for_it_first() -> None:
    names = _names("orders")
    assert names[0] == "demo.list_orders"  # its name has the word as written
    assert set(names[1:3]) == {"demo.get_order", "demo.cancel_order"}  # theirs, its stem


def test_open_orders_ranks_the_listing_first() -> None:
    assert _names("open orders", limit=3)[0] == "demo.list_orders"


def test_cancelling_an_order_finds_cancel_order() -> None:
    assert _names("cancel an order")[0] == "demo.cancel_order"
    assert _names("cancelled")[0] == "demo.cancel_order"


def test_read_file_ranks_read_file_first_then_its_neighbours() -> None:
    names = _names("read file")
    assert names[0] == "fs.read_file"
    assert set(names[1:3]) == {"fs.write_file", "demo.read_note"}


def test_words_of_a_camel_case_mcp_name_find_its_tool() -> None:
    assert "demo.search_products" in _names("kettle products", limit=2)
    assert _names("searchProducts")[0] == "demo.search_products"
    assert _names("search")[0] == "demo.search_products"


def test_parameter_names_descriptions_and_enum_values_are_searched() -> None:
    assert set(_names("group by month")) == {"demo.sales_summary", "demo.sales_chart"}
    assert _names("country") == ["demo.list_customers"]
    assert "demo.list_orders" in _names("shipped")  # a value of the status enum
    assert "demo.read_note" in _names("shipped")  # 'shipping', in the example of a description


def test_stemming_matches_plural_and_singular_both_ways() -> None:
    assert _names("customer")[:2] == ["demo.get_customer", "demo.list_customers"]
    assert _names("customers")[:2] == ["demo.list_customers", "demo.get_customer"]
    assert _names("note")[:2] == ["demo.read_note", "demo.list_notes"]
    assert _names("directories") == ["fs.list_directory"]


def test_the_stemmer_meets_inflections_at_one_stem() -> None:
    groups = [
        ("order", "orders", "ordered", "ordering"),
        ("file", "files", "filed"),
        ("category", "categories"),
        ("cancel", "cancelled", "cancels", "cancelling"),
        ("ship", "shipped", "shipping", "ships"),
        ("status", "statuses"),
        ("address", "addresses"),
        ("box", "boxes"),
        ("create", "created", "creates", "creating"),
    ]
    for group in groups:
        assert len({_strip_suffixes(word) for word in group}) == 1, group


def test_the_stemmer_leaves_short_words_numbers_and_non_suffixes_alone() -> None:
    assert [_strip_suffixes(w) for w in ("id", "s3", "1001", "string", "thing", "analysis", "need")] == [
        "id", "s3", "1001", "string", "thing", "analysis", "need"
    ]


def test_the_server_name_is_searched_as_part_of_every_name() -> None:
    assert set(_names("fs", limit=20)) == {"fs.list_directory", "fs.read_file", "fs.write_file"}


def test_equal_scores_rank_by_server_then_name() -> None:
    twin = ToolDef("a", "ping", "Check the server answers.")
    entries = [("zeta", "ping", twin), ("alpha", "ping_2", twin), ("alpha", "ping", twin)]
    hits = search_tools(entries, "answers")
    assert [(hit.server, hit.name) for hit in hits] == [("alpha", "ping"), ("alpha", "ping_2"), ("zeta", "ping")]
    assert len({hit.score for hit in hits}) == 1


def test_an_empty_query_or_one_of_stop_words_finds_nothing() -> None:
    assert search_tools(ENTRIES, "") == []
    assert search_tools(ENTRIES, "  ,. ") == []
    assert search_tools(ENTRIES, "the of and") == []


def test_a_word_no_tool_has_finds_nothing() -> None:
    assert search_tools(ENTRIES, "kubernetes") == []


def test_the_limit_caps_the_hits() -> None:
    assert len(search_tools(ENTRIES, "list", limit=2)) == 2
    assert search_tools(ENTRIES, "list", limit=0) == []


def test_hits_are_frozen_records_with_positive_scores() -> None:
    hit = search_tools(ENTRIES, "orders")[0]
    assert isinstance(hit, Hit) and hit.score > 0 and hit.tool is DEMO[3]
    with pytest.raises(AttributeError):
        hit.score = 0.0  # type: ignore[misc]


def test_names_detail_lists_server_dot_name_per_line() -> None:
    hits = search_tools(ENTRIES, "orders", limit=4)
    assert render_hits(hits, "names") == "demo.list_orders\ndemo.cancel_order\ndemo.get_order\ndemo.sales_summary"


def test_signatures_detail_gives_each_call_form_and_summary_on_one_line() -> None:
    hits = search_tools(ENTRIES, "read file", limit=3)
    assert render_hits(hits, "signatures") == (
        "fs.read_file(*, path: str) -> Any  # Read the complete contents of a file from the file system.\n"
        "demo.read_note(*, name: str) -> Any  # Read one internal note as markdown text.\n"
        "fs.write_file(*, path: str, content: str) -> Any  "
        "# Create a new file or completely overwrite an existing file with new content."
    )


def test_signatures_detail_omits_the_comment_of_a_tool_without_description() -> None:
    hits = search_tools([("x", "ping", ToolDef("x", "ping"))], "ping")
    assert render_hits(hits, "signatures") == "x.ping() -> Any"


def test_full_detail_gives_the_types_then_each_stub_under_its_server() -> None:
    hits = [h for h in search_tools(ENTRIES, "cancel order get", limit=5) if h.name in ("cancel_order", "get_order")]
    text = render_hits(hits, "full")
    assert text.startswith("class Order(TypedDict):")
    assert text.count("class Order(") == 1
    assert "# server: demo\ndef cancel_order(*, order_id: int) -> Order:" in text
    assert "Destructive: yes (needs approval)" in text
    assert "# server: demo\ndef get_order(*, order_id: int) -> Order:" in text
    ast.parse(text)


def test_full_detail_of_tools_without_types_is_just_the_stubs() -> None:
    hits = search_tools(ENTRIES, "read file", limit=1)
    assert render_hits(hits, "full") == (
        "# server: fs\n"
        "def read_file(*, path: str) -> Any:\n"
        '    """Read the complete contents of a file from the file system."""\n'
        "    ..."
    )


def test_no_hits_render_as_empty_text() -> None:
    assert [render_hits([], detail) for detail in ("names", "signatures", "full")] == ["", "", ""]


def test_an_unknown_detail_is_a_value_error_naming_the_three() -> None:
    with pytest.raises(ValueError) as caught:
        render_hits([], "everything")
    assert all(name in str(caught.value) for name in ("names", "signatures", "full", "everything"))


def test_a_malformed_input_schema_is_searched_by_name_and_description() -> None:
    odd = ToolDef("x", "odd_tool", "Handles widgets.", {"type": "object", "properties": ["not", "a", "dict"]})
    loop = ToolDef("x", "loop", "", {"type": "object", "properties": {"a": {"$ref": "#/properties/a"}}})
    entries = [("x", "odd_tool", odd), ("x", "loop", loop)]
    assert [hit.name for hit in search_tools(entries, "widgets")] == ["odd_tool"]
    assert [hit.name for hit in search_tools(entries, "loop")] == ["loop"]


def test_three_hundred_tools_are_searched_in_a_few_milliseconds() -> None:
    entries = [(f"s{n}", f"{name}_{n}", tool.replace(name=f"{tool.name}_{n}"))
               for n in range(24) for _, name, tool in ENTRIES[:13]]  # 312 demo-sized tools
    search_tools(entries, "warm up")
    started = time.perf_counter()
    hits = search_tools(entries, "open orders of a customer")
    elapsed = time.perf_counter() - started
    assert hits and elapsed < 1.0  # a loose bound: the figure (about 5 ms) is printed with -s
    print(f"\nsearch over {len(entries)} tools: {elapsed * 1000:.1f} ms")


def test_the_search_module_imports_only_the_standard_library() -> None:
    src = str(Path(codemode.schema.__file__).parents[2])
    code = (
        f"import sys; sys.path.insert(0, {src!r}); before = set(sys.modules); "
        "from codemode.schema import ToolDef, _search; "
        "hits = _search.search_tools([('s', 't', ToolDef('s', 't', 'x'))], 't'); "
        "_search.render_hits(hits, 'full'); print(' '.join(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True)
    added = {name.split(".")[0] for name in out.stdout.split()}
    assert "codemode" in added
    assert added - {"codemode"} <= set(sys.stdlib_module_names)
