from __future__ import annotations

from enum import StrEnum
from typing import Any

from codemode.schema import check_arguments, drop_unset

# The SDK's schema for list_orders(status: Literal[...] | None = None, limit: int = 10).
LIST_ORDERS: dict[str, Any] = {
    "properties": {
        "status": {
            "anyOf": [
                {"enum": ["open", "shipped", "cancelled"], "type": "string"},
                {"type": "null"},
            ],
            "default": None,
            "title": "Status",
        },
        "limit": {"default": 10, "title": "Limit", "type": "integer"},
    },
    "type": "object",
    "title": "list_ordersArguments",
}

# create_order(order_id: int, items: list[Item], note: str = "") with a $ref'd Item.
CREATE_ORDER: dict[str, Any] = {
    "$defs": {
        "Item": {
            "type": "object",
            "properties": {
                "sku": {"type": "string", "pattern": "^[A-Z]{3}-\\d+$"},
                "quantity": {"type": "integer", "minimum": 1},
                "options": {
                    "type": "object",
                    "properties": {"gift": {"type": "boolean"}},
                    "additionalProperties": False,
                },
            },
            "required": ["sku", "quantity"],
        }
    },
    "type": "object",
    "properties": {
        "order_id": {"type": "integer"},
        "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}, "minItems": 1},
        "note": {"type": "string", "maxLength": 10, "default": ""},
        "file-path": {"type": ["string", "null"]},
        "from": {"type": "string", "minLength": 2},
    },
    "required": ["order_id", "items"],
}

GOOD_ORDER: dict[str, Any] = {"order_id": 7, "items": [{"sku": "ABC-1", "quantity": 2}]}


def test_valid_arguments_have_no_problems() -> None:
    assert check_arguments(LIST_ORDERS, {}) == []
    assert check_arguments(LIST_ORDERS, {"status": "open", "limit": 5}) == []
    assert check_arguments(CREATE_ORDER, GOOD_ORDER) == []
    full = {**GOOD_ORDER, "note": "hi", "file-path": None, "from": "me"}
    assert check_arguments(CREATE_ORDER, full) == []


def test_a_value_outside_the_enum_lists_the_allowed_values() -> None:
    assert check_arguments(LIST_ORDERS, {"status": "bogus"}) == [
        'argument \'status\': expected one of "open", "shipped", "cancelled", got "bogus"'
    ]


def test_a_near_miss_of_an_enum_value_gets_a_suggestion() -> None:
    assert check_arguments(LIST_ORDERS, {"status": "shiped"}) == [
        'argument \'status\': expected one of "open", "shipped", "cancelled", got "shiped"; '
        'did you mean "shipped"?'
    ]


def test_an_unknown_argument_suggests_the_close_name() -> None:
    assert check_arguments(LIST_ORDERS, {"stauts": "open"}) == [
        "unknown argument 'stauts'; did you mean 'status'?"
    ]


def test_an_unknown_argument_without_a_close_name_lists_the_accepted_ones() -> None:
    assert check_arguments(LIST_ORDERS, {"colour": 1}) == [
        "unknown argument 'colour'; accepted: status, limit"
    ]
    assert check_arguments({"type": "object", "properties": {}}, {"x": 1}) == [
        "unknown argument 'x'; this tool takes no arguments"
    ]


def test_unknown_arguments_pass_when_the_schema_opens_additional_properties() -> None:
    open_schema = {**LIST_ORDERS, "additionalProperties": True}
    assert check_arguments(open_schema, {"anything": 1}) == []
    typed = {**LIST_ORDERS, "additionalProperties": {"type": "integer"}}
    assert check_arguments(typed, {"extra": "x"}) == ["argument 'extra': expected int, got \"x\""]
    assert check_arguments({"type": "object"}, {"anything": 1}) == []


def test_a_missing_required_argument_is_named_with_its_type() -> None:
    assert check_arguments(CREATE_ORDER, {"items": GOOD_ORDER["items"]}) == [
        "missing required argument 'order_id' (int)"
    ]


def test_problems_name_arguments_the_python_way() -> None:
    problems = check_arguments(CREATE_ORDER, {**GOOD_ORDER, "file-path": 3, "from": "x"})
    assert problems == [
        "argument 'file_path': expected str | None, got 3",
        "argument 'from_': must be at least 2 characters long, got \"x\"",
    ]


def test_json_types_are_strict_about_bools_and_lenient_about_ints() -> None:
    schema = {
        "type": "object",
        "properties": {"n": {"type": "number"}, "i": {"type": "integer"}, "b": {"type": "boolean"}},
    }
    assert check_arguments(schema, {"n": 3, "i": 2.0, "b": False}) == []
    assert check_arguments(schema, {"n": True, "i": 2.5, "b": 1}) == [
        "argument 'n': expected float, got True",
        "argument 'i': expected int, got 2.5",
        "argument 'b': expected bool, got 1",
    ]


def test_tuples_are_arrays_and_other_values_are_named_by_type() -> None:
    schema = {
        "type": "object",
        "properties": {"xs": {"type": "array", "items": {"type": "integer"}}},
    }
    assert check_arguments(schema, {"xs": (1, 2)}) == []
    assert check_arguments(schema, {"xs": {1, 2}}) == [
        "argument 'xs': expected list[int], got a set"
    ]
    assert check_arguments(schema, {"xs": "12"}) == [
        "argument 'xs': expected list[int], got \"12\""
    ]


def test_nested_problems_carry_a_path_into_the_value() -> None:
    items = [
        {"sku": "ABC-1", "quantity": 1},
        {"sku": "ABC-2", "quantity": 1},
        {"sku": "abc", "quantity": "two", "options": {"gift": "yes", "wrap": True}},
        {"quantity": 0},
    ]
    assert check_arguments(CREATE_ORDER, {"order_id": 1, "items": items}) == [
        "argument 'items[2].sku': must match the pattern '^[A-Z]{3}-\\\\d+$', got \"abc\"",
        "argument 'items[2].quantity': expected int, got \"two\"",
        "argument 'items[2].options.gift': expected bool, got \"yes\"",
        "argument 'items[2].options': unexpected key 'wrap'",
        "argument 'items[3]': missing required key 'sku' (str)",
        "argument 'items[3].quantity': must be >= 1, got 0",
    ]


def test_keys_that_are_not_identifiers_are_shown_subscripted() -> None:
    schema = {
        "type": "object",
        "properties": {"m": {"type": "object", "additionalProperties": {"type": "integer"}}},
    }
    assert check_arguments(schema, {"m": {"a-b": "x", "ok": 1}}) == [
        'argument \'m["a-b"]\': expected int, got "x"'
    ]


def test_array_and_string_limits_are_checked() -> None:
    assert check_arguments(CREATE_ORDER, {"order_id": 1, "items": []}) == [
        "argument 'items': must have at least 1 item, got 0"
    ]
    assert check_arguments(CREATE_ORDER, {**GOOD_ORDER, "note": "x" * 11}) == [
        "argument 'note': must be at most 10 characters long, got 11"
    ]


def test_number_bounds_cover_both_drafts_of_exclusive_limits() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
            "b": {"type": "number", "minimum": 0, "exclusiveMinimum": True},
            "c": {"type": "number", "exclusiveMaximum": 10},
        },
    }
    assert check_arguments(schema, {"a": 0.5, "b": 0.1, "c": 9.9}) == []
    assert check_arguments(schema, {"a": 0, "b": 0, "c": 10}) == [
        "argument 'a': must be > 0, got 0",
        "argument 'b': must be > 0, got 0",
        "argument 'c': must be < 10, got 10",
    ]
    assert check_arguments(schema, {"a": 1.5}) == ["argument 'a': must be <= 1, got 1.5"]


def test_a_union_passes_when_any_branch_fits_and_reports_the_closest_branch() -> None:
    schema = {
        "type": "object",
        "properties": {
            "id": {"anyOf": [{"type": "integer"}, {"type": "string", "minLength": 3}]},
            "pick": {"oneOf": [{"type": "integer"}, {"type": "boolean"}]},
        },
    }
    assert check_arguments(schema, {"id": 3, "pick": True}) == []
    assert check_arguments(schema, {"id": "ab"}) == [
        "argument 'id': must be at least 3 characters long, got \"ab\""
    ]
    assert check_arguments(schema, {"id": [1]}) == [
        "argument 'id': expected int | str, got a list of 1 item"
    ]


def test_const_and_enum_compare_as_json() -> None:
    schema = {"type": "object", "properties": {"v": {"const": 1}, "e": {"enum": [True, "x"]}}}
    assert check_arguments(schema, {"v": 1.0, "e": True}) == []
    assert check_arguments(schema, {"v": True, "e": 1}) == [
        "argument 'v': expected 1, got True",
        "argument 'e': expected one of True, \"x\", got 1",
    ]


def test_enum_members_that_are_strings_pass_as_strings() -> None:
    class Status(StrEnum):
        OPEN = "open"
        BOGUS = "bogus"

    assert check_arguments(LIST_ORDERS, {"status": Status.OPEN}) == []
    assert check_arguments(LIST_ORDERS, {"status": Status.BOGUS})[0].endswith('got "bogus"')


def test_recursive_refs_are_checked_to_any_depth_they_are_given() -> None:
    schema = {
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                },
                "required": ["name"],
            }
        },
        "type": "object",
        "properties": {"root": {"$ref": "#/$defs/Node"}},
        "required": ["root"],
    }
    tree = {"name": "a", "children": [{"name": "b", "children": [{"children": []}]}]}
    assert check_arguments(schema, {"root": tree}) == [
        "argument 'root.children[0].children[0]': missing required key 'name' (str)"
    ]


def test_a_self_referencing_schema_does_not_loop() -> None:
    loop = {
        "type": "object",
        "properties": {"x": {"$ref": "#/$defs/A"}},
        "$defs": {"A": {"$ref": "#/$defs/A"}},
    }
    assert check_arguments(loop, {"x": 1}) == []


def test_none_for_an_optional_argument_means_not_given_once_drop_unset_has_run() -> None:
    assert check_arguments(CREATE_ORDER, drop_unset({**GOOD_ORDER, "note": None, "from": None}, CREATE_ORDER)) == []
    assert check_arguments(CREATE_ORDER, {"order_id": None, "items": GOOD_ORDER["items"]}) == [
        "argument 'order_id': expected int, got None"
    ]


def test_null_is_refused_where_the_schema_does_not_allow_it() -> None:
    # What the host sees when a worker skips drop_unset: null on the wire for an optional
    # argument that is not nullable.
    problems = check_arguments(CREATE_ORDER, {**GOOD_ORDER, "note": None})
    assert len(problems) == 1 and problems[0].startswith("argument 'note'")
    assert check_arguments(CREATE_ORDER, {**GOOD_ORDER, "file-path": None}) == []  # it allows null


def test_drop_unset_removes_none_only_where_the_schema_rejects_null() -> None:
    arguments = {**GOOD_ORDER, "note": None, "file-path": None, "from": "me", "unknown": None}
    assert drop_unset(arguments, CREATE_ORDER) == {
        **GOOD_ORDER,
        "file-path": None,
        "from": "me",
        "unknown": None,
    }
    assert drop_unset({"status": None, "limit": None}, LIST_ORDERS) == {"status": None}
    assert drop_unset({"order_id": None}, CREATE_ORDER) == {"order_id": None}


def test_many_problems_are_capped() -> None:
    schema = {
        "type": "object",
        "properties": {"xs": {"type": "array", "items": {"type": "integer"}}},
    }
    problems = check_arguments(schema, {"xs": ["a"] * 100})
    assert len(problems) == 20
    assert problems[0] == "argument 'xs[0]': expected int, got \"a\""


def test_odd_schemas_never_raise() -> None:
    assert check_arguments({"required": ["ghost"]}, {}) == [
        "missing required argument 'ghost' (Any)"
    ]
    assert check_arguments({}, {"a": 1}) == []
    assert check_arguments({"properties": {"a": True}}, {"a": 1}) == []
    assert (
        check_arguments({"properties": {"a": {"type": "string", "pattern": "(?<=x"}}}, {"a": "y"})
        == []
    )
    assert check_arguments({"properties": {"a": {"$ref": "#/nowhere"}}}, {"a": 1}) == []
