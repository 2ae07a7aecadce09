"""Kernel data into a run: `Session.run(code, inputs=...)` binds JSON data as variables."""

from __future__ import annotations

import datetime
import decimal
import math

import pytest

from codemode.engine import Session
from codemode.engine._inputs import InputError, check_inputs


def test_inputs_are_variables_of_the_run_before_its_code(demo_session: Session) -> None:
    orders = [{"id": "A-1", "amount": 12.5}, {"id": "A-2", "amount": 7.5}]
    report = demo_session.run("sum(o['amount'] for o in orders) * limit", inputs={"orders": orders, "limit": 2})
    assert report.ok, report.error
    assert report.value == 40.0


def test_the_worker_gets_a_copy_so_the_kernels_data_is_untouched(demo_session: Session) -> None:
    rows = [{"n": 1}]
    report = demo_session.run("rows.append({'n': 2}); rows[0]['n'] = 99; rows", inputs={"rows": rows})
    assert report.value == [{"n": 99}, {"n": 2}]
    assert rows == [{"n": 1}]


def test_tuples_become_lists_and_nested_data_keeps_its_shape(demo_session: Session) -> None:
    report = demo_session.run("[type(pair).__name__, pair, meta['tags'][1]]",
                              inputs={"pair": (1, 2), "meta": {"tags": ("a", "b"), "ok": True, "none": None}})
    assert report.value == ["list", [1, 2], "b"]


def test_a_value_that_is_not_json_data_is_refused_naming_it_and_the_fix() -> None:
    with pytest.raises(InputError) as caught:
        check_inputs({"orders": [{"when": datetime.date(2026, 11, 30)}]})
    assert caught.value.name == "orders"
    assert caught.value.where == "orders[0]['when']"
    assert "isoformat()" in str(caught.value)
    with pytest.raises(InputError) as caught:
        check_inputs({"price": decimal.Decimal("1.5")})
    assert "float(value)" in str(caught.value)


def test_a_dataframe_like_value_is_told_to_use_to_dict_records() -> None:
    DataFrame = type("DataFrame", (), {})  # what the error names is the type's name
    with pytest.raises(InputError) as caught:
        check_inputs({"df": DataFrame()})
    assert 'df.to_dict("records")' in str(caught.value)
    assert caught.value.code == "INVALID_INPUT"


@pytest.mark.parametrize("inputs, problem", [
    ({"not a name": 1}, "variable name"),
    ({"class": 1}, "variable name"),
    ({"__builtins__": 1}, "__"),
    ({"x": math.nan}, "JSON cannot carry"),
    ({"x": {1: "a"}}, "not a string"),
    ({"x": {"a", "b"}}, "sorted(value)"),
])
def test_bad_names_and_values_are_refused_before_any_worker_sees_them(inputs: dict, problem: str) -> None:
    with pytest.raises(InputError, match=None) as caught:
        check_inputs(inputs)
    assert problem in str(caught.value)


def test_a_cycle_is_refused_not_recursed_forever() -> None:
    loop: list = []
    loop.append(loop)
    with pytest.raises(InputError) as caught:
        check_inputs({"loop": loop})
    assert "cycle" in str(caught.value)


def test_an_input_may_not_hide_a_server(demo_session: Session) -> None:
    with pytest.raises(InputError) as caught:
        demo_session.run("demo", inputs={"demo": 1})
    assert "server" in str(caught.value)
