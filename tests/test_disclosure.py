"""Progressive disclosure and the token account, through a real session on the demo server."""

from __future__ import annotations

import json

import pytest

from codemode.config import demo_config
from codemode.engine import Session
from codemode.schema import accessors_stub
from codemode.tokens.metrics import EstimateTokenizer, TokenAccount
from codemode.trace import MIME_TYPE
from codemode.trace._render import render_text


def test_cell_code_can_search_the_tools_at_every_detail(demo_session: Session) -> None:
    report = demo_session.run(
        "import codemode\n"
        "names = codemode.search('open orders', detail='names', limit=3)\n"
        "full = codemode.search('cancel an order', detail='full', limit=1)\n"
        "[names.splitlines(), 'Destructive' in full, 'def cancel_order' in full]"
    )
    assert report.ok, report.error
    names, destructive, has_def = report.value
    assert names[0] == "demo.list_orders" and len(names) <= 3
    assert destructive and has_def
    assert report.calls == ()  # searching is not a tool call


def test_an_unknown_detail_is_a_value_error_in_the_cell(demo_session: Session) -> None:
    report = demo_session.run("import codemode\ncodemode.search('orders', detail='everything')")
    assert not report.ok and report.error is not None and report.error["type"] == "ValueError"


def test_help_on_a_tool_prints_its_stub(demo_session: Session) -> None:
    report = demo_session.run("help(demo.list_orders)")
    assert report.ok
    assert "def list_orders(" in report.stdout and "status" in report.stdout


def test_every_run_carries_a_token_account_in_metadata_not_in_the_payload(demo_session: Session) -> None:
    report = demo_session.run('len(demo.list_orders(status="open"))')
    tokens = report.tokens
    assert isinstance(tokens, TokenAccount)
    assert tokens.classic["definitions"] > 0 and tokens.classic["results"] > 0 and tokens.classic["arguments"] > 0
    assert tokens.code_mode["surface"] > 0 and tokens.code_mode["code"] > 0
    data, metadata = report._repr_mimebundle_()
    assert "tokens" not in json.dumps(data[MIME_TYPE])
    assert metadata[MIME_TYPE]["tokens"]["classic"] == tokens.classic
    # The compared text is what a reader sees on every re-run; the token line is in the detailed
    # text (the CLI's report) and in the HTML, both outside what nbval compares.
    assert "tokens (" not in data["text/plain"]
    assert f"tokens ({tokens.tokenizer})" in render_text(report, details=True)
    assert 'class="codemode-tokens"' in data["text/html"]


def test_a_multi_step_cell_costs_fewer_tokens_than_classic_calling(demo_session: Session) -> None:
    report = demo_session.run(
        "orders = demo.list_orders(limit=50)\n"
        "customers = {c['id']: c['name'] for c in demo.list_customers()}\n"
        "late = [o for o in orders if o['status'] == 'open']\n"
        "sorted({customers[o['customer_id']] for o in late})"
    )
    assert report.ok and report.tokens is not None
    assert report.tokens.classic_total > report.tokens.code_mode_total


def test_the_session_total_sums_its_runs() -> None:
    with Session(demo_config(), tokenizer=EstimateTokenizer()) as session:
        first = session.run("demo.get_order(order_id=1001)['id']").tokens
        second = session.run("1 + 1").tokens
        assert first is not None and second is not None
        assert session.accountant.total == first + second
        assert first.tokenizer.startswith("estimate")


def test_search_disclosure_counts_only_what_the_code_searched() -> None:
    with Session(demo_config(), disclosure="search") as session:
        quiet = session.run("1 + 1").tokens
        searched = session.run("import codemode\ncodemode.search('orders', detail='full')").tokens
    assert quiet is not None and searched is not None
    assert quiet.code_mode["surface"] == 0
    assert searched.code_mode["surface"] > 0


def test_an_unknown_disclosure_is_refused() -> None:
    with pytest.raises(ValueError, match="disclosure"):
        Session(demo_config(), disclosure="everything")


def test_stubs_of_a_server_and_of_one_tool(demo_session: Session) -> None:
    everything = demo_session.stubs("demo")
    # The accessor classes once, first (the view stays readable and checkable alone), then the server.
    assert everything.startswith(accessors_stub()) and "\nclass demo(Server):" in everything
    own = everything[everything.index("\nclass demo(Server):"):]
    assert own.count("\n    def ") == len(demo_session.tools("demo"))
    one = demo_session.stubs("demo.search_products")
    assert "\ndef search_products(" in one and "query" in one
    assert one.startswith("class Product(TypedDict):")  # the types the tool names come first
