from __future__ import annotations

import keyword
import pickle

import pytest

from codemode.schema import NameMap, ToolDef, to_identifier


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("get_item", "get_item"),
        ("getItem", "get_item"),
        ("GetItem", "get_item"),
        ("get-item", "get_item"),
        ("read.file", "read_file"),
        ("read file", "read_file"),
        ("read/file", "read_file"),
        ("HTTPServer", "http_server"),
        ("getHTTPResponse", "get_http_response"),
        ("listS3Buckets", "list_s3_buckets"),
        ("utf8", "utf8"),
        ("a--b__c", "a_b_c"),
        ("_private_", "private"),
        ("__init__", "init"),
        ("3d-view", "_3d_view"),
        ("3d", "_3d"),
        ("class", "class_"),
        ("import", "import_"),
        ("from", "from_"),
        ("None", "none"),
        ("True", "true"),
        ("delete", "delete"),
        ("match", "match"),
        ("type", "type"),
        ("id", "id"),
        ("café_crème", "cafe_creme"),
        ("straße", "strasse"),
        ("名前", "tool"),
        ("", "tool"),
        ("---", "tool"),
        ("search(v2)", "search_v2"),
    ],
)
def test_to_identifier_makes_snake_case_keyword_safe_identifiers(name: str, expected: str) -> None:
    assert to_identifier(name) == expected


@pytest.mark.parametrize(
    "name", ["", "a", "A1", "1", "__x__", "if", "--9--", "Ünïcödé", "x.y-z w/q"]
)
def test_to_identifier_always_returns_a_valid_non_keyword_identifier(name: str) -> None:
    result = to_identifier(name)
    assert result.isidentifier()
    assert result.isascii()
    assert not keyword.iskeyword(result)
    assert not result.startswith("__")


def test_to_identifier_uses_the_fallback_when_nothing_is_left() -> None:
    assert to_identifier("", fallback="arg") == "arg"
    assert to_identifier("???", fallback="arg") == "arg"


def test_colliding_names_get_numbered_suffixes_and_the_exact_spelling_keeps_the_bare_name() -> None:
    names = NameMap.build(["getItem", "get-item", "get_item", "delete"])
    assert names.to_python("get_item") == "get_item"
    assert names.to_python("get-item") == "get_item_2"  # "-" sorts before "I"
    assert names.to_python("getItem") == "get_item_3"
    assert names.to_python("delete") == "delete"


def test_without_an_exact_spelling_the_first_name_in_sorted_order_gets_the_bare_name() -> None:
    names = NameMap.build(["getItem", "get-item"])
    assert names.items() == [("get_item_2", "getItem"), ("get_item", "get-item")]


def test_name_map_is_independent_of_input_order() -> None:
    tools = ["getItem", "get-item", "get_item", "get_item_2", "class", "class_", "3d", ""]
    forward = NameMap.build(tools)
    backward = NameMap.build(reversed(tools))
    assert {m: forward.to_python(m) for m in tools} == {m: backward.to_python(m) for m in tools}


def test_a_suffix_never_takes_a_name_that_another_tool_owns() -> None:
    names = NameMap.build(["get_item_2", "getItem", "get_item"])
    assert names.to_python("get_item_2") == "get_item_2"
    assert names.to_python("get_item") == "get_item"
    assert names.to_python("getItem") == "get_item_3"


def test_keyword_collisions_suffix_after_the_underscore() -> None:
    names = NameMap.build(["class", "class_"])
    assert names.to_python("class_") == "class_"
    assert names.to_python("class") == "class_2"


def test_name_map_round_trips_every_name_exactly() -> None:
    tools = [
        "delete",
        "get-item",
        "getItem",
        "get_item",
        "class",
        "3d",
        "",
        "read.file",
        "read file",
    ]
    names = NameMap.build(tools)
    python = names.python_names()
    assert len(set(python)) == len(tools)
    for tool in tools:
        assert names.to_mcp(names.to_python(tool)) == tool
    for py in python:
        assert py.isidentifier() and not keyword.iskeyword(py) and not py.startswith("__")
        assert py in names


def test_python_names_and_items_keep_the_given_order() -> None:
    names = NameMap.build(["zeta", "alpha", "zeta"])
    assert names.python_names() == ["zeta", "alpha"]
    assert names.items() == [("zeta", "zeta"), ("alpha", "alpha")]
    assert len(names) == 2
    assert list(names) == ["zeta", "alpha"]


def test_unknown_names_raise_key_error_both_ways() -> None:
    names = NameMap.build(["get-item"])
    with pytest.raises(KeyError):
        names.to_mcp("get-item")
    with pytest.raises(KeyError):
        names.to_python("get_item")
    assert "get-item" not in names
    assert "get_item" in names


def test_argument_keys_become_keywords_that_map_back_to_the_wire_key() -> None:
    names = NameMap.build(["from", "file-path", "filePath", ""], fallback="arg")
    assert names.to_python("from") == "from_"
    assert names.to_python("file-path") == "file_path"
    assert names.to_python("filePath") == "file_path_2"
    assert names.to_python("") == "arg"
    assert names.to_mcp("file_path") == "file-path"


def test_reserved_names_get_a_trailing_underscore() -> None:
    names = NameMap.build(["acall", "list"], reserved=["acall"])
    assert names.to_python("acall") == "acall_"
    assert names.to_python("list") == "list"


def test_name_maps_compare_by_content() -> None:
    assert NameMap.build(["a", "b"]) == NameMap.build(["b", "a"])
    assert NameMap.build(["a"]) != NameMap.build(["b"])


def test_tool_summary_is_the_first_sentence_or_line() -> None:
    tool = ToolDef("demo", "t", "List orders. Filter them by status.\nSecond line.")
    assert tool.summary == "List orders."
    assert ToolDef("demo", "t", "\n  First line\nSecond").summary == "First line"
    assert ToolDef("demo", "t", "Version 2.5 of the tool").summary == "Version 2.5 of the tool"
    assert ToolDef("demo", "t").summary == ""


def test_a_long_summary_is_cut_at_a_word_with_an_ellipsis() -> None:
    summary = ToolDef("demo", "t", "word " * 60).summary
    assert len(summary) <= 100
    assert summary.endswith("word…")


def test_tool_def_is_a_frozen_value_with_wire_defaults() -> None:
    tool = ToolDef("demo", "list_orders")
    assert tool.input_schema == {"type": "object"}
    assert tool.output_schema is None
    assert tool.annotations == {}
    assert tool == ToolDef("demo", "list_orders")
    assert ToolDef("demo", "a").input_schema is not ToolDef("demo", "b").input_schema
    with pytest.raises(AttributeError):
        tool.name = "other"
    assert tool.replace(name="other").name == "other"
    assert "name='list_orders'" in repr(tool)


def test_tool_def_survives_pickle_and_a_json_round_trip() -> None:
    tool = ToolDef(
        "demo", "rm", "Remove.", {"type": "object"}, None, {"destructiveHint": True}, "Remove"
    )
    assert pickle.loads(pickle.dumps(tool)) == tool
    assert ToolDef.from_dict(tool.as_dict()) == tool


def test_only_a_stated_destructive_hint_makes_a_tool_destructive() -> None:
    assert ToolDef("s", "t", annotations={"destructiveHint": True}).destructive
    assert not ToolDef("s", "t").destructive
    assert not ToolDef(
        "s", "t", annotations={"destructiveHint": True, "readOnlyHint": True}
    ).destructive
