"""Approval on the host: which calls need a yes, what the session does with the answer.

Real servers with their real annotations: the demo's `cancel_order` (`destructiveHint: true`)
and its read-only tools; the memory and filesystem servers' delete and write tools. The
approver here is a plain object through the seam (`Approver.ask`); the faces' own approvers
(kernel stdin, terminal, MCP elicitation) are tested in `test_approval_faces.py`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codemode.config import demo_config, parse_config
from codemode.engine import Session
from codemode.schema import ToolDef
from codemode.trust.approval import (
    Answer,
    ApprovalRequest,
    ApprovalRule,
    is_destructive,
)

CATCH = """
from codemode import ToolError
try:
    demo.cancel_order(order_id={order})
except ToolError as exc:
    print(exc.code)
len(demo.list_orders(status="open"))
"""


class Scripted:
    """An approver that answers from a script and records what it was asked."""

    def __init__(self, *verdicts: str) -> None:
        self.verdicts = list(verdicts)
        self.asked: list[ApprovalRequest] = []

    def ask(self, request: ApprovalRequest, timeout: float) -> Answer:
        self.asked.append(request)
        return Answer(self.verdicts.pop(0), "a test person")  # type: ignore[arg-type]


def demo_with(**settings: Any) -> Session:
    data = {"mcpServers": {"demo": demo_config().servers["demo"].model_dump(exclude_defaults=True)},
            "codemode": settings}
    return Session(parse_config(data, source=None))


@pytest.fixture
def session() -> Iterator[Session]:
    with Session(demo_config()) as session:
        yield session


# -- the rule ------------------------------------------------------------------------------


def test_the_spec_defaults_decide_for_tools_that_say_little() -> None:
    assert is_destructive({"destructiveHint": True})
    assert is_destructive({})  # no annotations: destructive
    assert is_destructive({"readOnlyHint": False})  # destructiveHint defaults to true
    assert not is_destructive({"readOnlyHint": True})
    assert not is_destructive({"readOnlyHint": False, "destructiveHint": False})  # memory's create_entities


def test_the_rule_names_its_reason_and_what_pre_approves() -> None:
    cancel = ToolDef("demo", "cancel_order", annotations={"destructiveHint": True})
    bare = ToolDef("x", "do-it")
    listing = ToolDef("demo", "list_orders", annotations={"readOnlyHint": True})
    rule = ApprovalRule()
    assert rule.reason(cancel) == "destructiveHint: true"
    assert rule.reason(bare) == "destructive by the MCP defaults (no annotations)"
    assert rule.reason(listing) is None
    assert ApprovalRule("all").reason(listing) == "codemode.approve is 'all'"
    assert ApprovalRule("none").reason(cancel) is None
    assert ApprovalRule(("demo.list_*",)).reason(listing) == "codemode.approve lists it"
    assert ApprovalRule(preapproved=("demo.cancel_*",)).preapproved_by(cancel) == "codemode.preapproved"
    assert ApprovalRule().with_flags(["x.do_it"]).preapproved_by(bare, ["x.do_it"]) == "--approve"


# -- the session -----------------------------------------------------------------------------


def test_a_destructive_call_with_nobody_to_ask_is_refused_before_it_reaches_the_server(session: Session) -> None:
    report = session.run("demo.cancel_order(order_id=1030)")
    assert not report.ok and report.error is not None and report.error["code"] == "APPROVAL_REQUIRED"
    (call,) = report.calls
    assert call.approval is not None and call.approval["decision"] == "refused"
    assert "--approve demo.cancel_order" in (call.error or "") and '"preapproved"' in (call.error or "")
    still_open = session.run('demo.get_order(order_id=1030)["status"]')
    assert still_open.value == "open"  # the server never saw the call


def test_read_only_calls_are_never_held(session: Session) -> None:
    asker = Scripted()
    report = session.run('demo.list_orders(status="open")\ndemo.search_products(query="mug")', approver=asker)
    assert report.ok and asker.asked == [] and all(call.approval is None for call in report.calls)


def test_code_catches_a_denial_and_goes_on(session: Session) -> None:
    asker = Scripted("deny")
    report = session.run(CATCH.format(order=1030), approver=asker)
    assert report.ok, report.error
    assert report.stdout == "APPROVAL_DENIED\n" and report.value == 6
    (request,) = asker.asked
    assert (request.server, request.tool, request.arguments) == ("demo", "cancel_order", {"order_id": 1030})
    assert request.annotations == {"destructiveHint": True} and request.reason == "destructiveHint: true"
    assert report.calls[0].approval == {"decision": "denied", "by": "a test person",
                                        "waited": report.calls[0].approval["waited"]}
    assert report.payload()["calls"][0]["approval"] == {"decision": "denied", "by": "a test person"}


def test_a_yes_lets_one_call_through_and_for_the_session_lets_every_later_one(session: Session) -> None:
    once = Scripted("once")
    first = session.run('demo.cancel_order(order_id=1030)["status"]', approver=once)
    assert first.value == "cancelled" and first.calls[0].approval["decision"] == "approved"
    again = session.run("demo.cancel_order(order_id=1029)")
    assert again.error is not None and again.error["code"] == "APPROVAL_REQUIRED"  # "once" was once
    always = Scripted("session")
    both = session.run("[demo.cancel_order(order_id=i)['status'] for i in (1029, 1028)]", approver=always)
    assert both.value == ["cancelled", "cancelled"] and len(always.asked) == 1
    later = session.run("demo.cancel_order(order_id=1027)['status']")
    assert later.value == "cancelled"
    assert later.calls[0].approval["decision"] == "preapproved"
    assert "for the session" in later.calls[0].approval["by"]
    assert "approval: preapproved by" in repr(later)


def test_pre_approval_by_config_and_by_flag_asks_nobody() -> None:
    with demo_with(preapproved=["demo.cancel_*"]) as session:
        report = session.run('demo.cancel_order(order_id=1030)["status"]')
        assert report.value == "cancelled"
        assert report.calls[0].approval == {"decision": "preapproved", "by": "codemode.preapproved", "waited": 0.0}
        assert "Destructive: yes (pre-approved by codemode.preapproved)" in session.stubs("demo.cancel_order")
    with Session(demo_config()) as session:
        report = session.run('demo.cancel_order(order_id=1030)["status"]', approve=["demo.cancel_order"])
        assert report.value == "cancelled" and report.calls[0].approval["by"] == "--approve"


def test_approve_all_none_and_patterns_change_what_is_held_and_what_the_stubs_say() -> None:
    with demo_with(approve="none") as session:
        assert session.run('demo.cancel_order(order_id=1030)["status"]').value == "cancelled"
        assert "approval is off" in session.stubs("demo.cancel_order")
    with demo_with(approve="all") as session:
        report = session.run("demo.list_notes()")
        assert report.error is not None and report.error["code"] == "APPROVAL_REQUIRED"
        assert "Approval (needs approval: codemode.approve is 'all')" in session.stubs("demo.list_notes")
    with demo_with(approve=["demo.read_*"]) as session:
        assert session.run("demo.cancel_order(order_id=1030)['status']").value == "cancelled"
        assert session.run("demo.read_note(name='returns-policy')").error["code"] == "APPROVAL_REQUIRED"


def test_help_in_the_worker_says_what_the_policy_will_do(session: Session) -> None:
    report = session.run("help(demo.cancel_order)\nhelp(demo.list_orders)")
    assert report.stdout.count("needs approval") == 1


def test_an_approver_that_fails_counts_as_nobody(session: Session) -> None:
    class Broken:
        def ask(self, request: ApprovalRequest, timeout: float) -> Answer:
            raise RuntimeError("no front end")

    report = session.run("demo.cancel_order(order_id=1030)", approver=Broken())
    assert report.error["code"] == "APPROVAL_REQUIRED" and "no front end" in report.calls[0].error


# -- third-party servers ----------------------------------------------------------------------

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import _peers  # noqa: E402


@pytest.fixture(scope="module")
def peers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    missing = {k: v for k, v in _peers.missing_peers().items() if k in ("memory", "filesystem")}
    if missing:
        pytest.skip("; ".join(missing.values()))
    data = _peers.peers_config(_peers.make_scratch(tmp_path_factory.mktemp("approval-peers")))
    data["mcpServers"] = {k: v for k, v in data["mcpServers"].items() if k in ("memory", "filesystem")}
    with Session(parse_config(data, source=None, environ=dict(os.environ))) as session:
        yield session


def test_memory_and_filesystem_annotations_hold_their_deletes_and_writes(peers: Session) -> None:
    asker = Scripted("deny", "once")
    report = peers.run(
        "from codemode import ToolError\n"
        "memory.create_entities(entities=[{'name': 'kiln', 'entityType': 'tool', 'observations': []}])\n"
        "try:\n    memory.delete_entities(entityNames=['kiln'])\nexcept ToolError as exc:\n    print(exc.code)\n"
        "memory.delete_entities(entityNames=['kiln'])\n"
        "[e['name'] for e in memory.read_graph()['entities']]",
        approver=asker)
    assert report.ok, report.error
    assert report.stdout == "APPROVAL_DENIED\n" and report.value == []
    assert [(r.tool, r.annotations.get("destructiveHint")) for r in asker.asked] == [("delete_entities", True)] * 2
    assert [c.approval and c.approval["decision"] for c in report.calls] == [None, "denied", "approved", None]
    root = peers.run("filesystem.list_allowed_directories()").stdout  # a read-only tool: no question
    assert "APPROVAL" not in root
    write = peers.run("filesystem.write_file(path='x.txt', content='x')")
    assert write.error is not None and write.error["code"] == "APPROVAL_REQUIRED"
    assert "Destructive: yes (needs approval)" in peers.stubs("filesystem.write_file")
    assert "Destructive" not in peers.stubs("memory.create_entities")
