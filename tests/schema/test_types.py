from __future__ import annotations

import inspect
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import codemode.schema
from codemode.schema import (
    NO_DEFAULT,
    Param,
    annotation,
    is_wrapped_output,
    parameters,
    return_annotation,
    signature,
    unwrap_structured,
)

# Schemas as the MCP SDK (2.x MCPServer) emits them for:
#   def list_orders(status: Literal["open", "shipped"] | None = None, limit: int = 10)
#       -> list[Order]
#   def summary(region: str) -> SalesSummary
#   def tree(root: Node) -> Node            (Node.children: list[Node] = [])
#   def count() -> int
LIST_ORDERS_INPUT: dict[str, Any] = {
    "properties": {
        "status": {
            "anyOf": [{"enum": ["open", "shipped"], "type": "string"}, {"type": "null"}],
            "default": None,
            "title": "Status",
        },
        "limit": {"default": 10, "title": "Limit", "type": "integer"},
    },
    "type": "object",
    "title": "list_ordersArguments",
}
ORDER_DEF: dict[str, Any] = {
    "properties": {
        "id": {"title": "Id", "type": "integer"},
        "amount": {"title": "Amount", "type": "number"},
    },
    "required": ["id", "amount"],
    "title": "Order",
    "type": "object",
}
LIST_ORDERS_OUTPUT: dict[str, Any] = {
    "properties": {
        "result": {"items": {"$ref": "#/$defs/Order"}, "title": "Result", "type": "array"}
    },
    "required": ["result"],
    "title": "list_ordersOutput",
    "type": "object",
    "$defs": {"Order": ORDER_DEF},
}
SUMMARY_OUTPUT: dict[str, Any] = {
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
    "required": ["total", "by_region", "top"],
    "title": "SalesSummary",
    "type": "object",
}
NODE_DEF: dict[str, Any] = {
    "properties": {
        "name": {"title": "Name", "type": "string"},
        "children": {
            "default": [],
            "items": {"$ref": "#/$defs/Node"},
            "title": "Children",
            "type": "array",
        },
    },
    "required": ["name"],
    "title": "Node",
    "type": "object",
}
TREE_INPUT: dict[str, Any] = {
    "$defs": {"Node": NODE_DEF},
    "properties": {"root": {"$ref": "#/$defs/Node"}},
    "required": ["root"],
    "title": "treeArguments",
    "type": "object",
}
COUNT_OUTPUT: dict[str, Any] = {
    "properties": {"result": {"title": "Result", "type": "integer"}},
    "required": ["result"],
    "title": "countOutput",
    "type": "object",
}


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "string"}, "str"),
        ({"type": "string", "format": "date-time"}, "str"),
        ({"type": "integer"}, "int"),
        ({"type": "number"}, "float"),
        ({"type": "boolean"}, "bool"),
        ({"type": "null"}, "None"),
        ({"type": "array"}, "list[Any]"),
        ({"type": "array", "items": {"type": "integer"}}, "list[int]"),
        (
            {"type": "array", "items": {"type": "array", "items": {"type": "string"}}},
            "list[list[str]]",
        ),
        ({"type": "object"}, "dict[str, Any]"),
        ({"type": "object", "properties": {"a": {"type": "string"}}}, "dict[str, Any]"),
        ({"type": "object", "additionalProperties": {"type": "number"}}, "dict[str, float]"),
        ({"type": "object", "additionalProperties": True}, "dict[str, Any]"),
        ({"enum": ["a", "b"]}, 'Literal["a", "b"]'),
        ({"type": "string", "enum": ["it's", 'say "hi"']}, 'Literal["it\'s", "say \\"hi\\""]'),
        ({"enum": [1, 2, True]}, "Literal[1, 2, True]"),
        ({"enum": ["a", None]}, 'Literal["a"] | None'),
        ({"const": "x"}, 'Literal["x"]'),
        ({"type": ["string", "null"]}, "str | None"),
        ({"type": ["null", "integer", "string"]}, "int | str | None"),
        ({"anyOf": [{"type": "null"}, {"type": "string"}, {"type": "string"}]}, "str | None"),
        (
            {"oneOf": [{"type": "integer"}, {"type": "array", "items": {"type": "integer"}}]},
            "int | list[int]",
        ),
        (
            {"anyOf": [{"enum": ["a"]}, {"enum": ["b"]}, {"type": "null"}]},
            'Literal["a", "b"] | None',
        ),
        ({"anyOf": [{"type": "string"}, {}]}, "Any"),
        ({"allOf": [{"type": "integer"}]}, "int"),
        ({"type": "string", "allOf": [{"minLength": 1}, {"pattern": "^a"}]}, "str"),
        ({"type": "string", "nullable": True}, "str | None"),
        (
            {
                "type": "array",
                "prefixItems": [{"type": "number"}, {"type": "number"}],
                "maxItems": 2,
            },
            "tuple[float, float]",
        ),
        ({"properties": {"a": {}}}, "dict[str, Any]"),
        ({"items": {"type": "string"}}, "list[str]"),
        ({}, "Any"),
        ({"description": "anything"}, "Any"),
        ({"type": "mystery"}, "Any"),
    ],
)
def test_annotation_spells_json_schema_as_python_type_text(
    schema: dict[str, Any], expected: str
) -> None:
    assert annotation(schema) == expected


def test_annotation_of_non_dict_schemas_is_any() -> None:
    assert annotation(None) == "Any"
    assert annotation(True) == "Any"


def test_a_ref_to_a_named_object_is_its_name() -> None:
    assert (
        annotation(LIST_ORDERS_OUTPUT["properties"]["result"], LIST_ORDERS_OUTPUT) == "list[Order]"
    )
    assert annotation({"$ref": "#/definitions/Pet"}, {"definitions": {"Pet": ORDER_DEF}}) == "Pet"


def test_a_ref_to_anything_else_is_inlined() -> None:
    root: dict[str, Any] = {
        "$defs": {"Color": {"enum": ["red", "green"], "title": "Color", "type": "string"}}
    }
    assert annotation({"$ref": "#/$defs/Color"}, root) == 'Literal["red", "green"]'
    root = {"definitions": {"Ids": {"type": "array", "items": {"type": "integer"}}}}
    assert (
        annotation({"anyOf": [{"$ref": "#/definitions/Ids"}, {"type": "null"}]}, root)
        == "list[int] | None"
    )


def test_a_named_object_whose_key_is_no_identifier_uses_its_title() -> None:
    root = {"$defs": {"Page[Order]": {**ORDER_DEF, "title": "OrderPage"}}}
    assert annotation({"$ref": "#/$defs/Page[Order]"}, root) == "OrderPage"


def test_a_recursive_ref_stops_at_the_name() -> None:
    assert annotation(TREE_INPUT["properties"]["root"], TREE_INPUT) == "Node"
    assert annotation(NODE_DEF["properties"]["children"], TREE_INPUT) == "list[Node]"


def test_a_recursive_ref_through_unions_ends_without_looping() -> None:
    root = {
        "$defs": {
            "JSON": {
                "anyOf": [
                    {"type": "string"},
                    {"type": "array", "items": {"$ref": "#/$defs/JSON"}},
                ]
            }
        }
    }
    assert annotation({"$ref": "#/$defs/JSON"}, root) == "str | list[JSON]"
    assert (
        annotation({"$ref": "#"}, {"anyOf": [{"type": "string"}, {"items": {"$ref": "#"}}]})
        == "str | list[Any]"
    )


def test_unresolvable_refs_are_any() -> None:
    assert annotation({"$ref": "#/$defs/Missing"}, {"$defs": {}}) == "Any"
    assert annotation({"$ref": "https://example.com/schema.json"}) == "Any"


def test_deep_nesting_is_cut_off_at_any() -> None:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(100):
        schema = {"type": "array", "items": schema}
    text = annotation(schema)
    assert text.count("list[") == 25
    assert text.endswith("[Any" + "]" * 25)


def test_parameters_put_required_first_and_keep_schema_order() -> None:
    schema = {
        "type": "object",
        "properties": {
            "limit": {"type": "integer", "default": 50, "description": "  Most rows.  "},
            "order_id": {"type": "integer"},
            "note": {"type": "string"},
            "from": {"type": "string"},
            "file-path": {"type": "string"},
        },
        "required": ["order_id", "file-path"],
    }
    assert parameters(schema) == [
        Param("order_id", "order_id", "int", True, NO_DEFAULT, ""),
        Param("file_path", "file-path", "str", True, NO_DEFAULT, ""),
        Param("limit", "limit", "int", False, 50, "Most rows."),
        Param("note", "note", "str | None", False, None, ""),
        Param("from_", "from", "str | None", False, None, ""),
    ]


def test_parameters_of_the_sdk_schema_keep_its_defaults() -> None:
    assert parameters(LIST_ORDERS_INPUT) == [
        Param("status", "status", 'Literal["open", "shipped"] | None', False, None, ""),
        Param("limit", "limit", "int", False, 10, ""),
    ]
    assert [p.annotation for p in parameters(TREE_INPUT)] == ["Node"]


def test_parameters_of_an_argumentless_tool_are_empty() -> None:
    assert parameters({"type": "object"}) == []
    assert parameters({"type": "object", "properties": {}}) == []


def test_signature_is_keyword_only_with_string_annotations() -> None:
    sig = signature(LIST_ORDERS_INPUT, LIST_ORDERS_OUTPUT)
    assert (
        str(sig)
        == "(*, status: 'Literal[\"open\", \"shipped\"] | None' = None, limit: 'int' = 10) "
        "-> 'list[Order]'"
    )
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in sig.parameters.values())
    required = signature({"properties": {"x": {"type": "string"}}, "required": ["x"]})
    assert required.parameters["x"].default is inspect.Parameter.empty
    assert required.return_annotation is inspect.Signature.empty
    assert sig.bind(status="open").arguments == {"status": "open"}


def test_the_sdk_wrapper_output_is_recognised_and_unwrapped() -> None:
    assert is_wrapped_output(LIST_ORDERS_OUTPUT)
    assert is_wrapped_output(COUNT_OUTPUT)
    assert not is_wrapped_output(SUMMARY_OUTPUT)
    assert not is_wrapped_output(None)
    marked = {
        "type": "object",
        "properties": {"result": {"type": "string"}},
        "x-fastmcp-wrap-result": True,
    }
    assert is_wrapped_output(marked)
    model = {
        **COUNT_OUTPUT,
        "title": "Answer",
    }  # a model that happens to have one field named result
    assert not is_wrapped_output(model)
    assert unwrap_structured(COUNT_OUTPUT, {"result": 3}) == 3
    assert unwrap_structured(SUMMARY_OUTPUT, {"total": 1.0}) == {"total": 1.0}
    assert unwrap_structured(model, {"result": 3}) == {"result": 3}


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (LIST_ORDERS_OUTPUT, "list[Order]"),
        (COUNT_OUTPUT, "int"),
        (SUMMARY_OUTPUT, "SalesSummary"),
        ({**NODE_DEF, "$defs": {"Node": NODE_DEF}}, "Node"),
        ({"type": "object", "properties": {"a": {"type": "string"}}}, "dict[str, Any]"),
        ({"type": "object", "additionalProperties": {"type": "integer"}}, "dict[str, int]"),
        ({"type": "object", "title": "has space", "properties": {}}, "dict[str, Any]"),
        (None, "Any"),
    ],
)
def test_return_annotation_reads_the_output_schema(
    output: dict[str, Any] | None, expected: str
) -> None:
    assert return_annotation(output) == expected


def test_no_default_survives_pickle_as_itself() -> None:
    assert pickle.loads(pickle.dumps(NO_DEFAULT)) is NO_DEFAULT
    assert repr(NO_DEFAULT) == "NO_DEFAULT"


def test_the_public_api_is_pinned() -> None:
    assert sorted(codemode.schema.__all__) == [
        "Hit",
        "NO_DEFAULT",
        "NameMap",
        "Param",
        "ToolDef",
        "accessors_stub",
        "annotation",
        "check_arguments",
        "drop_unset",
        "is_wrapped_output",
        "name_types",
        "package_name",
        "parameters",
        "render_hits",
        "return_annotation",
        "search_tools",
        "server_stub",
        "signature",
        "signature_line",
        "stub",
        "stub_package",
        "suggest",
        "to_identifier",
        "types_stub",
        "unwrap_structured",
    ]
    for name in codemode.schema.__all__:
        assert hasattr(codemode.schema, name)


def test_importing_the_schema_layer_adds_only_our_modules_and_keyword() -> None:
    src = Path(codemode.schema.__file__).parents[2]
    code = (
        "import sys; import codemode; before = set(sys.modules); import codemode.schema; "
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    added = set(out.stdout.split())
    assert {m for m in added if not m.startswith("codemode.schema")} <= {"keyword"}
