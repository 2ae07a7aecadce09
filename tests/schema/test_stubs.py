from __future__ import annotations

import ast
from typing import Any

from codemode.schema import (
    NameMap,
    ToolDef,
    server_stub,
    signature_line,
    stub,
    types_stub,
)

ORDER_DEF: dict[str, Any] = {
    "properties": {
        "id": {"title": "Id", "type": "integer", "description": "The order number."},
        "amount": {"title": "Amount", "type": "number"},
    },
    "required": ["id", "amount"],
    "title": "Order",
    "type": "object",
}

# As the SDK lists `list_orders(status: Literal[...] | None = None, limit: int = 50)
# -> list[Order]`.
LIST_ORDERS = ToolDef(
    server="demo",
    name="list_orders",
    description="List orders, newest first.\n\nFilters combine with AND.",
    input_schema={
        "properties": {
            "status": {
                "anyOf": [
                    {"enum": ["open", "shipped", "cancelled"], "type": "string"},
                    {"type": "null"},
                ],
                "default": None,
                "title": "Status",
                "description": "Only orders in this state.",
            },
            "limit": {
                "default": 50,
                "title": "Limit",
                "type": "integer",
                "description": "At most this many.",
            },
        },
        "type": "object",
        "title": "list_ordersArguments",
    },
    output_schema={
        "$defs": {"Order": ORDER_DEF},
        "properties": {
            "result": {"items": {"$ref": "#/$defs/Order"}, "title": "Result", "type": "array"}
        },
        "required": ["result"],
        "title": "list_ordersOutput",
        "type": "object",
    },
)

SALES_SUMMARY = ToolDef(
    server="demo",
    name="salesSummary",
    description="""Totals for a region.

        Amounts are in EUR.
    """,
    input_schema={
        "properties": {"region": {"title": "Region", "type": "string"}},
        "required": ["region"],
        "title": "salesSummaryArguments",
        "type": "object",
    },
    output_schema={
        "$defs": {"Order": ORDER_DEF},
        "properties": {
            "total": {"title": "Total", "type": "number"},
            "by_region": {
                "additionalProperties": {"type": "number"},
                "title": "By Region",
                "type": "object",
            },
            "top": {"items": {"$ref": "#/$defs/Order"}, "title": "Top", "type": "array"},
        },
        "required": ["total", "by_region"],
        "title": "SalesSummary",
        "type": "object",
        "description": "The region's sales.",
    },
)

DELETE_ORDER = ToolDef(
    server="demo",
    name="delete-order",
    description="Delete an order for good.",
    input_schema={
        "type": "object",
        "properties": {
            "order_id": {"type": "integer"},
            "from": {"type": "string", "description": "Who asks."},
        },
        "required": ["order_id"],
    },
    annotations={"destructiveHint": True},
)

PING = ToolDef(server="demo", name="ping")


def test_stub_of_an_sdk_tool_reads_like_a_typed_python_function() -> None:
    assert (
        stub(LIST_ORDERS)
        == '''\
def list_orders(
    *,
    status: Literal["open", "shipped", "cancelled"] | None = None,
    limit: int = 50,
) -> list[Order]:
    """List orders, newest first.

    Filters combine with AND.

    Args:
        status: Only orders in this state.
        limit: At most this many.

    Returns:
        list[Order]
    """
    ...'''
    )


def test_stub_of_a_destructive_tool_says_it_needs_approval() -> None:
    assert (
        stub(DELETE_ORDER)
        == '''\
def delete_order(*, order_id: int, from_: str | None = None) -> Any:
    """Delete an order for good.

    Args:
        from_: Who asks.

    Destructive: yes (needs approval)
    """
    ...'''
    )


def test_stub_of_a_bare_tool_is_a_bare_def() -> None:
    assert stub(PING) == "def ping() -> Any:\n    ..."
    assert stub(PING, "ping_2") == "def ping_2() -> Any:\n    ..."


def test_stub_of_a_model_result_names_the_model_and_can_define_it() -> None:
    assert (
        stub(SALES_SUMMARY, with_types=True)
        == '''\
class SalesSummary(TypedDict):
    """The region's sales."""
    total: float
    by_region: dict[str, float]
    top: NotRequired[list[Order]]


class Order(TypedDict):
    id: int  # The order number.
    amount: float


def sales_summary(*, region: str) -> SalesSummary:
    """Totals for a region.

    Amounts are in EUR.

    Returns:
        The region's sales.
    """
    ...'''
    )


def test_signature_line_is_the_one_line_call_form() -> None:
    assert signature_line(LIST_ORDERS) == (
        'list_orders(*, status: Literal["open", "shipped", "cancelled"] | None = None, '
        "limit: int = 50) -> list[Order]"
    )
    assert signature_line(PING) == "ping() -> Any"
    assert (
        signature_line(DELETE_ORDER, "rm")
        == "rm(*, order_id: int, from_: str | None = None) -> Any"
    )


def tools_part(text: str) -> str:
    """A server stub without what it lists (its `resources` and `prompts` attributes,
    tests/schema/test_offers.py)."""
    return text.split("\n\n    resources: Resources")[0].split("\n\n    prompts: Prompts")[0].rstrip("\n") + "\n"


def test_server_stub_defines_types_once_then_the_server_class() -> None:
    tools = [LIST_ORDERS, DELETE_ORDER, SALES_SUMMARY, PING]
    assert (
        tools_part(server_stub("demo", tools))
        == '''\
from typing import Any, Literal, NotRequired, TypedDict


class Order(TypedDict):
    id: int  # The order number.
    amount: float


class SalesSummary(TypedDict):
    """The region's sales."""
    total: float
    by_region: dict[str, float]
    top: NotRequired[list[Order]]


class demo(Server):
    """demo MCP server: 4 tools."""

    @staticmethod
    def list_orders(
        *,
        status: Literal["open", "shipped", "cancelled"] | None = None,
        limit: int = 50,
    ) -> list[Order]:
        """List orders, newest first.

        Filters combine with AND.

        Args:
            status: Only orders in this state.
            limit: At most this many.

        Returns:
            list[Order]
        """
        ...

    @staticmethod
    def delete_order(*, order_id: int, from_: str | None = None) -> Any:
        """Delete an order for good.

        Args:
            from_: Who asks.

        Destructive: yes (needs approval)
        """
        ...

    @staticmethod
    def sales_summary(*, region: str) -> SalesSummary:
        """Totals for a region.

        Amounts are in EUR.

        Returns:
            The region's sales.
        """
        ...

    @staticmethod
    def ping() -> Any:
        ...
'''
    )


def test_server_stub_uses_the_given_names_and_a_safe_class_name() -> None:
    names = NameMap.build(["ping", "list_orders"], reserved=["ping"])
    text = server_stub("my-server", [PING], names)
    assert (
        tools_part(text)
        == '''\
from typing import Any


class my_server(Server):
    """my-server MCP server: 1 tool."""

    @staticmethod
    def ping_() -> Any:
        ...
'''
    )
    assert tools_part(server_stub("x", [], class_name="X")) == \
        'class X(Server):\n    """x MCP server: 0 tools."""\n'


def test_colliding_tool_names_get_distinct_defs() -> None:
    tools = [ToolDef("s", n) for n in ["get-item", "getItem", "get_item", "class", "3d", ""]]
    tree = ast.parse(server_stub("s", tools))
    server = tree.body[-1]
    assert isinstance(server, ast.ClassDef)
    defs = [node.name for node in server.body if isinstance(node, ast.FunctionDef)]
    assert defs == ["get_item_2", "get_item_3", "get_item", "class_", "_3d", "tool"]


def test_types_stub_uses_the_call_form_for_keys_that_are_not_identifiers() -> None:
    tool = ToolDef(
        "s",
        "t",
        input_schema={
            "type": "object",
            "properties": {"f": {"$ref": "#/definitions/File"}},
            "definitions": {
                "File": {
                    "type": "object",
                    "properties": {"file-path": {"type": "string"}, "class": {}},
                }
            },
        },
    )
    assert (
        types_stub([tool])
        == """\
File = TypedDict("File", {
    "file-path": NotRequired[str],
    "class": NotRequired[Any],
})"""
    )


def test_recursive_types_are_defined_once() -> None:
    node = {
        "properties": {
            "name": {"type": "string"},
            "children": {"items": {"$ref": "#/$defs/Node"}, "type": "array"},
        },
        "required": ["name"],
        "title": "Node",
        "type": "object",
    }
    tool = ToolDef(
        "s",
        "tree",
        input_schema={
            "$defs": {"Node": node},
            "properties": {"root": {"$ref": "#/$defs/Node"}},
            "required": ["root"],
            "type": "object",
        },
        output_schema={**node, "$defs": {"Node": node}},
    )
    assert (
        types_stub([tool])
        == "class Node(TypedDict):\n    name: str\n    children: NotRequired[list[Node]]"
    )
    assert signature_line(tool) == "tree(*, root: Node) -> Node"


def test_awkward_descriptions_still_give_valid_python() -> None:
    tool = ToolDef(
        "s",
        "grep",
        description='Search with a regex like \\d+ and """quotes""".',
        input_schema={
            "type": "object",
            "properties": {
                "q": {
                    "type": "string",
                    "description": 'ends with a quote"',
                    "default": "a\\b\n\"c'",
                }
            },
        },
    )
    text = server_stub("s", [tool])
    tree = ast.parse(text)
    server = tree.body[-1]
    assert isinstance(server, ast.ClassDef)
    function = server.body[1]
    assert isinstance(function, ast.FunctionDef)
    assert (ast.get_docstring(function) or "").startswith(
        'Search with a regex like \\d+ and \\"\\"\\"quotes'
    )
    default = function.args.kw_defaults[0]
    assert default is not None
    assert ast.literal_eval(default) == "a\\b\n\"c'"


def test_long_defaults_are_elided() -> None:
    tool = ToolDef(
        "s",
        "t",
        input_schema={
            "properties": {"cols": {"type": "array", "default": ["a_long_column_name"] * 5}}
        },
    )
    assert signature_line(tool) == "t(*, cols: list[Any] = ...) -> Any"


def test_inline_objects_become_typed_dicts_named_from_their_property() -> None:
    from codemode.schema import name_types

    item = {"type": "object", "properties": {"name": {"type": "string"}, "kind": {"enum": ["a", "b"]}},
            "required": ["name"]}
    create = ToolDef("m", "create_entities", input_schema={
        "type": "object", "properties": {"entities": {"type": "array", "items": item}}, "required": ["entities"]})
    read = ToolDef("m", "read_graph", output_schema={
        "type": "object", "properties": {"entities": {"type": "array", "items": {**item, "additionalProperties": False}}}})
    text = server_stub("m", [create, read])
    assert "def create_entities(*, entities: list[Entity]) -> Any:" in text
    assert "def read_graph() -> ReadGraphResult:" in text
    assert text.count("class Entity(TypedDict):") == 1  # the same shape is one type
    assert 'kind: NotRequired[Literal["a", "b"]]' in text
    named = name_types([create])
    assert name_types(named) == named  # naming twice changes nothing
    assert create.input_schema["properties"]["entities"]["items"] is item  # the original stays as sent


def test_the_same_name_for_another_shape_gets_a_number() -> None:
    one = ToolDef("m", "a", input_schema={"type": "object", "properties": {
        "edits": {"type": "array", "items": {"type": "object", "properties": {"old": {"type": "string"}}}}}})
    two = ToolDef("m", "b", input_schema={"type": "object", "properties": {
        "edits": {"type": "array", "items": {"type": "object", "properties": {"new": {"type": "integer"}}}}}})
    text = server_stub("m", [one, two])
    assert "edits: list[Edit] | None" in text and "edits: list[Edit1] | None" in text


def test_did_you_mean_ranks_by_words_and_characters() -> None:
    from codemode.schema import suggest

    assert suggest("get_time", ["convert_time", "get_current_time"]) == ["get_current_time"]
    assert suggest("list_order", ["get_order", "list_orders", "list_customers"]) == ["list_orders"]
    assert suggest("zzz", ["get_order"]) == []


def test_a_summary_is_the_first_sentence_and_an_abbreviation_does_not_end_it() -> None:
    from codemode.schema._tooldef import summarize

    assert summarize("ISO 3166 alpha-2 country code, e.g. DE. Upper case.") == "ISO 3166 alpha-2 country code, e.g. DE."
    assert summarize("Names (i.e. ids), etc. in order. More.") == "Names (i.e. ids), etc. in order."
    assert summarize("Play the piano. Then rest.") == "Play the piano."
    assert summarize("First line\nsecond line") == "First line"
