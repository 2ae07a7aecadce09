"""Which calls need a person's yes, and the seam through which a face asks.

Approval is policy: `ApprovalRule` decides, on the host, that a call needs a yes, from the
tool's MCP annotations and the config (`approve`, `preapproved`) or a run's `--approve`
flag. Asking is a face's job: each face hands the session an `Approver` (the kernel's stdin,
the terminal, an MCP elicitation), or none, and the session calls it before the call leaves
the host. Whatever the answer, the call's record says who or what decided and how long it
waited.

The MCP spec's defaults decide for tools that say little: a tool is destructive unless it
says `readOnlyHint: true` or `destructiveHint: false`; a tool with no annotations at all is
destructive.

An approver is called on the thread that called `Session.run` (the kernel's main thread, the
CLI's), never on the hub's loop, so it may block on a prompt; it must honour `timeout`.
Nobody to ask is an answer too (`Answer.nobody`): the call is refused with
`APPROVAL_REQUIRED`, and the message says how to pre-approve.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from codemode.schema import ToolDef
from codemode.shared.escape import escaped

__all__ = [
    "Answer",
    "ApprovalRequest",
    "ApprovalRule",
    "Approver",
    "is_destructive",
]

Verdict = Literal["once", "session", "deny", "nobody"]


def is_destructive(annotations: Mapping[str, Any]) -> bool:
    """Whether MCP annotations make a tool destructive, with the spec's defaults
    (`readOnlyHint` false, `destructiveHint` true) for what they leave out."""
    if annotations.get("readOnlyHint") is True:
        return False
    return annotations.get("destructiveHint") is not False


@dataclass(frozen=True)
class ApprovalRequest:
    """What the person is shown: the call and why it needs a yes.

    Args:
        server, tool: the Python names cell code used (`demo.cancel_order`).
        mcp_server, mcp_tool: the names on the wire.
        annotations: the tool's MCP annotations, as the server sent them.
        arguments: the call's arguments by the Python names the code used (checked against the schema).
        reason: why the policy asks ("destructiveHint: true", "codemode.approve is 'all'").
    """

    server: str
    tool: str
    mcp_server: str
    mcp_tool: str
    annotations: dict[str, Any]
    arguments: dict[str, Any]
    reason: str

    @property
    def qualified(self) -> str:
        return f"{self.server}.{self.tool}"

    def describe(self) -> str:
        """The call in a few lines, for a prompt: what needs a yes and why, then the arguments
        by their Python names, one indented block. Names and arguments come from the worker and
        the server, so control and bidirectional characters show as escapes."""
        import json
        import textwrap

        from codemode.schema._types import python_literal

        lines = [f"codemode: {self.qualified} needs approval ({self.reason})"]
        for key, value in self.arguments.items():
            shown = json.dumps(value, ensure_ascii=False, indent=2) if isinstance(value, (dict, list)) else python_literal(value)
            lines.append(textwrap.indent(f"{key}={shown}", "    "))
        return escaped("\n".join(lines))


@dataclass(frozen=True)
class Answer:
    """An approver's answer: `once` (this call), `session` (this tool for the rest of the
    session), `deny` (a person said no) or `nobody` (nobody could be asked); `by` names who
    answered or why nobody could ("kernel stdin", "no terminal", "timeout after 60 s")."""

    verdict: Verdict
    by: str

    @classmethod
    def nobody(cls, why: str) -> Answer:
        """Nobody could be asked, because `why` ("stdin is not a terminal")."""
        return cls("nobody", f"nobody to ask ({why})")


class Approver(Protocol):
    """A face's way to ask a person. Called on the run's calling thread; blocks up to `timeout`."""

    def ask(self, request: ApprovalRequest, timeout: float) -> Answer:
        """The person's answer to `request`, or `Answer.nobody(why)`."""
        ...


@dataclass(frozen=True)
class ApprovalRule:
    """Which calls need a yes.

    Args:
        approve: "destructive" (by the MCP annotations and the spec's defaults), "all",
            "none", or `server.tool` patterns (shell wildcards, Python or MCP names).
        preapproved: patterns that never ask (the config's `preapproved`).
        flagged: patterns pre-approved for one run (`--approve`).
    """

    approve: str | tuple[str, ...] = "destructive"
    preapproved: tuple[str, ...] = ()
    flagged: tuple[str, ...] = field(default=())

    def reason(self, tool: ToolDef, names: Iterable[str] = ()) -> str | None:
        """Why this tool needs a yes under `approve`, or None when it does not; `names` are
        its qualified Python names (`demo.cancel_order`), matched as well as its MCP ones."""
        if self.approve == "none":
            return None
        if self.approve == "all":
            return "codemode.approve is 'all'"
        if self.approve == "destructive":
            if not is_destructive(tool.annotations):
                return None
            if tool.annotations.get("destructiveHint") is True:
                return "destructiveHint: true"
            return "destructive by the MCP defaults (no readOnlyHint)" if tool.annotations else \
                "destructive by the MCP defaults (no annotations)"
        assert isinstance(self.approve, tuple)
        return "codemode.approve lists it" if _matches(self.approve, tool, names) else None

    def preapproved_by(self, tool: ToolDef, names: Iterable[str] = ()) -> str | None:
        """What pre-approves this tool ("--approve", "codemode.preapproved"), or None."""
        if _matches(self.flagged, tool, names):
            return "--approve"
        if _matches(self.preapproved, tool, names):
            return "codemode.preapproved"
        return None

    def with_flags(self, patterns: Iterable[str] | None) -> ApprovalRule:
        """This rule with a run's `--approve` patterns added."""
        extra = tuple(p for p in (patterns or ()) if p)
        return ApprovalRule(self.approve, self.preapproved, self.flagged + extra) if extra else self

    def note(self, tool: ToolDef, names: Iterable[str] = ()) -> str | None:
        """The line a stub's docstring ends with: what the policy will do for this tool."""
        destructive = is_destructive(tool.annotations)
        reason = self.reason(tool, names)
        if reason is None:
            if destructive and self.approve == "none":
                return "Destructive: yes (approval is off: codemode.approve is 'none')"
            return None
        by = self.preapproved_by(tool, names)
        label = "Destructive: yes" if destructive and self.approve == "destructive" else "Approval"
        if by is not None:
            return f"{label} (pre-approved by {by})"
        if reason == "destructiveHint: true":
            return "Destructive: yes (needs approval)"  # the schema layer's DESTRUCTIVE_NOTE
        return f"{label} (needs approval: {reason})"


def _matches(patterns: Iterable[str], tool: ToolDef, names: Iterable[str]) -> bool:
    every = {f"{tool.server}.{tool.name}", *names}
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns for name in every)
