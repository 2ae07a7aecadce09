"""Questions a server asks during a call (MCP elicitation), and how they are answered.

A server may ask its client for a form (a few primitive fields) or to send the person to a
URL (a third-party sign-in, a payment). The hub hands each question to the run whose call is
in flight; `codemode.elicit` decides what happens:

- `"ask"` (the default): the face that runs the code asks a person, through the same
  approver that asks for approvals (kernel stdin, the terminal, `codemode serve`'s client by
  elicitation). A face with nobody to ask declines.
- `"decline"`: every question is declined.
- `"defaults"`: a form is accepted with the schema's defaults when every required field has
  one, else declined; a URL question is declined.

A URL question shows the URL and asks whether the person will go there; the host never sees
what they enter on that page. Form answers are checked against the schema's types before
they leave. An approver answers on the run's thread, as it does for approvals.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from codemode.shared.escape import escaped

__all__ = ["ELICIT_MODES", "Question", "Reply", "ask_in_lines", "defaults_reply"]

ElicitMode = Literal["ask", "decline", "defaults"]
ELICIT_MODES: tuple[str, ...] = ("ask", "decline", "defaults")
Action = Literal["accept", "decline", "cancel"]


@dataclass(frozen=True)
class Question:
    """A server's question. `server`/`tool`: the Python names of the call it came with."""

    server: str
    tool: str | None
    message: str
    mode: Literal["form", "url"] = "form"
    schema: dict[str, Any] = field(default_factory=dict)
    url: str | None = None

    def describe(self) -> str:
        where = f"{self.server}.{self.tool}" if self.tool else self.server
        text = f"codemode: {where} asks: {self.message}"
        if self.mode == "url":
            text += f"\n  it asks you to open: {self.url}"
        return escaped(text)


@dataclass(frozen=True)
class Reply:
    """The answer sent back: `accept` (with `content` for a form), `decline` or `cancel`;
    `by` says who or what answered."""

    action: Action
    by: str
    content: dict[str, Any] | None = None

    def wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"action": self.action}
        if self.action == "accept" and self.content is not None:
            out["content"] = self.content
        return out


def defaults_reply(question: Question) -> Reply:
    """`"defaults"`: accept a form with its schema's defaults when every required field has one."""
    by = "codemode.elicit 'defaults'"
    if question.mode != "form":
        return Reply("decline", f"{by} (a URL question needs a person)")
    properties = question.schema.get("properties") or {}
    missing = [name for name in question.schema.get("required") or []
               if "default" not in (properties.get(name) or {})]
    if missing:
        return Reply("decline", f"{by} (no default for {', '.join(missing)})")
    content = {name: spec["default"] for name, spec in properties.items()
               if isinstance(spec, dict) and "default" in spec}
    return Reply("accept", by, content)


def ask_in_lines(question: Question, say: Callable[[str], None], read: Callable[[str], str | None],
                 by: str) -> Reply:
    """Ask a question one line at a time (a terminal, a kernel's input box).

    `read(prompt)` returns the person's line, or None when nobody answered in time (the
    question is then cancelled). An empty line takes a field's default; for a URL question,
    `y` accepts (the person will open it) and anything else declines."""
    say(question.describe())
    if question.mode == "url":
        line = read("Open it? y = yes, n = no: ")
        if line is None:
            return Reply("cancel", f"{by}, no answer")
        return Reply("accept" if line.strip().lower() in ("y", "yes") else "decline", by)
    first = read("Answer? y = fill in the form, n = decline: ")
    if first is None:
        return Reply("cancel", f"{by}, no answer")
    if first.strip().lower() not in ("y", "yes"):
        return Reply("decline", by)
    properties = question.schema.get("properties") or {}
    required = set(question.schema.get("required") or [])
    content: dict[str, Any] = {}
    for name, spec in properties.items():
        spec = spec if isinstance(spec, dict) else {}
        while True:
            line = read(_prompt(name, spec, name in required))
            if line is None:
                return Reply("cancel", f"{by}, no answer")
            value, problem = _parse(line.strip(), spec, name in required)
            if problem is None:
                break
            say(f"  {problem}")
        if value is not None:
            content[name] = value
    return Reply("accept", by, content)


def _prompt(name: str, spec: dict[str, Any], required: bool) -> str:
    label = spec.get("title") or name
    hint = spec.get("description")
    choices = _choices(spec)
    parts = [f"{label}"]
    if hint and hint != label:
        parts.append(f" ({hint})")
    if choices:
        parts.append(f" [{' / '.join(choices)}]")
    elif spec.get("type") == "boolean":
        parts.append(" [y/n]")
    if "default" in spec:
        parts.append(f" default {json.dumps(spec['default'])}")
    elif not required:
        parts.append(" (optional)")
    return escaped("".join(parts)) + ": "


def _choices(spec: dict[str, Any]) -> list[str]:
    if isinstance(spec.get("enum"), list):
        return [str(choice) for choice in spec["enum"]]
    if isinstance(spec.get("oneOf"), list):
        return [str(option.get("const")) for option in spec["oneOf"] if isinstance(option, dict)]
    return []


def _parse(text: str, spec: dict[str, Any], required: bool) -> tuple[Any, str | None]:
    """A typed line as the field's value: (value, None), or (None, what is wrong)."""
    if not text:
        if "default" in spec:
            return spec["default"], None
        return (None, "this field is required") if required else (None, None)
    kind = spec.get("type")
    choices = _choices(spec)
    if choices and text not in choices:
        return None, f"one of {', '.join(choices)}"
    if kind == "boolean":
        if text.lower() in ("y", "yes", "true"):
            return True, None
        if text.lower() in ("n", "no", "false"):
            return False, None
        return None, "y or n"
    if kind in ("integer", "number"):
        try:
            number = int(text) if kind == "integer" else float(text)
        except ValueError:
            return None, f"a{'n integer' if kind == 'integer' else ' number'}"
        return number, None
    return text, None
