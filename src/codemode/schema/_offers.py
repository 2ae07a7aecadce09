"""A server's resources, resource templates and prompts, as stubs and search show them.

Every server namespace has two accessors beside its tools, `srv.resources` (`read(uri)`,
`templates()`, `list()`) and `srv.prompts` (`get(name, **arguments)`, `list()`), each with an
async twin (`aread`, ...). Their classes are written once (`ACCESSORS`: once at the top of a
stubs text, once per stub package), not in every server's class: a server's class only names
what it lists (`accessor_lines`), so a server that lists nothing costs no tokens for them.
`Offer` is one such item; `call_text` is how search shows it: a call the code can make.

Invariants:
- `list` is the last method of each class: a type checker resolves `list[...]` in the class
  body to the method once it is defined (mypy: "Function ... is not valid as a type").
- A docstring lists at most `MAX_LISTED` items of a kind, then how many more `list()` gives.
- Standard library only, no I/O (the worker imports this package).
"""

from __future__ import annotations

from codemode.schema._doctext import docstring
from codemode.schema._tooldef import FrozenRecord, summarize
from codemode.schema._types import python_literal

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs the worker ~10 ms
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any

__all__ = ["ACCESSORS", "Offer", "accessor_lines", "accessors_stub", "call_text", "offer_head", "offer_note", "offers_from_wire"]

#: How many resources (templates, prompts) a docstring names; the rest are counted.
MAX_LISTED = 20

#: A description in a listing or a search line is its first sentence, cut to this length.
MAX_NOTE = 80

KINDS = ("resource", "template", "prompt")

#: What every server namespace has beside its tools, written once per stubs text (before the
#: servers' classes) and once per stub package (its `_codemode_accessors.pyi`): a server's class
#: derives from `Server`, and only a server that lists something says so, next to its attribute.
ACCESSORS = '''\
class Resources:
    """read(uri) gives {"contents": [{"uri", "mimeType", "text" or "blob" (base64)}]}, also for a
    ResourceLink a tool returned; list() and templates() the listed dicts; a...: the async twins."""
    def read(self, uri: str) -> dict[str, Any]: ...
    def templates(self) -> list[dict[str, Any]]: ...
    async def aread(self, uri: str) -> dict[str, Any]: ...
    async def atemplates(self) -> list[dict[str, Any]]: ...
    async def alist(self) -> list[dict[str, Any]]: ...
    def list(self) -> list[dict[str, Any]]: ...


class Prompts:
    """get(name, **arguments) fills one in (string arguments), giving {"description", "messages"};
    list() the listed dicts; a...: the async twins."""
    def get(self, name: str, **arguments: str) -> dict[str, Any]: ...
    async def aget(self, name: str, **arguments: str) -> dict[str, Any]: ...
    async def alist(self) -> list[dict[str, Any]]: ...
    def list(self) -> list[dict[str, Any]]: ...
'''

#: The base of every server class in a stubs text (`class demo(Server):`).
SERVER_BASE = '''\
class Server:
    resources: Resources
    prompts: Prompts
'''


def accessors_module() -> str:
    """The accessor classes as a module of their own (a stub package's)."""
    return "from typing import Any\n\n\n" + ACCESSORS


def accessors_stub() -> str:
    """The accessor classes and the servers' base, once at the top of a stubs text."""
    return accessors_module() + "\n\n" + SERVER_BASE


class Offer(FrozenRecord):
    """One resource, resource template or prompt a server lists."""

    __slots__ = ("kind", "key", "name", "description", "mime_type", "arguments")

    kind: str
    """"resource", "template" or "prompt"."""
    key: str
    """What code passes: the resource's `uri`, the template's `uriTemplate`, the prompt's name."""
    name: str
    """The resource's (template's) name, or its title; the prompt's title, else its name."""
    description: str
    mime_type: str
    arguments: tuple[tuple[str, str, bool], ...]
    """A prompt's arguments: (name, description, required)."""

    def __init__(self, kind: str, key: str, name: str = "", description: str = "", mime_type: str = "",
                 arguments: tuple[tuple[str, str, bool], ...] = ()) -> None:
        set_ = object.__setattr__
        set_(self, "kind", kind)
        set_(self, "key", key)
        set_(self, "name", name)
        set_(self, "description", description)
        set_(self, "mime_type", mime_type)
        set_(self, "arguments", arguments)

    @property
    def summary(self) -> str:
        return summarize(self.description, MAX_NOTE)


def offers_from_wire(resources: Iterable[Any] = (), templates: Iterable[Any] = (),
                     prompts: Iterable[Any] = ()) -> tuple[Offer, ...]:
    """`Offer`s from the wire dicts of `resources/list`, `resources/templates/list` and
    `prompts/list` (an item without its key, or not a dict, is skipped)."""
    found: list[Offer] = []
    for kind, items, key in (("resource", resources, "uri"), ("template", templates, "uriTemplate"),
                             ("prompt", prompts, "name")):
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get(key), str):
                continue
            arguments = tuple(
                (str(arg["name"]), _text(arg.get("description")), arg.get("required") is True)
                for arg in item.get("arguments") or () if isinstance(arg, dict) and isinstance(arg.get("name"), str))
            name = _text(item.get("title")) if kind == "prompt" else _text(item.get("name")) or _text(item.get("title"))
            found.append(Offer(kind, item[key], name, _text(item.get("description")), _text(item.get("mimeType")),
                               arguments))
    return tuple(found)


def call_text(server: str, offer: Offer) -> str:
    """The call that reads or gets `offer`: `srv.resources.read("uri")`,
    `srv.prompts.get("name", city=...)`."""
    if offer.kind != "prompt":
        return f"{server}.resources.read({python_literal(offer.key)})"
    named = [arg for arg in offer.arguments if arg[2]] + [arg for arg in offer.arguments if not arg[2]]
    parts = [python_literal(offer.key)]
    plain = [name for name, _, _ in named if name.isidentifier()]
    parts += [f"{name}=..." for name in plain]
    odd = [name for name, _, _ in named if not name.isidentifier()]
    if odd:
        parts.append("**{" + ", ".join(f"{python_literal(name)}: ..." for name in odd) + "}")
    return f"{server}.prompts.get({', '.join(parts)})"


def offer_head(offer: Offer) -> str:
    """What it is, before its description: `resource architecture.md (text/markdown)`,
    `resource template Dynamic Text (text/plain), fill in {id}`, `prompt Greeting, tone optional`."""
    label = {"resource": "resource", "template": "resource template", "prompt": "prompt"}[offer.kind]
    name = offer.name if offer.name and offer.name != offer.key else ""
    head = f"{label} {name}".strip()
    if offer.mime_type:
        head += f" ({offer.mime_type})"
    if offer.kind == "template":
        fields = [part.split("}", 1)[0] for part in offer.key.split("{")[1:] if "}" in part]
        if fields:
            head += ", fill in " + ", ".join("{" + field + "}" for field in fields)
    optional = [name for name, _, required in offer.arguments if not required]
    if optional:
        head += f", {', '.join(optional)} optional"
    return head


def offer_note(offer: Offer) -> str:
    """What a search line says of an offer after its call: its head and its summary."""
    head = offer_head(offer)
    return f"{head}: {offer.summary}" if offer.summary else head


def accessor_lines(server: str, offers: Sequence[Offer] | None, *, declare_all: bool = False) -> list[str]:
    """What a server lists, as `resources: Resources` / `prompts: Prompts` each with a docstring
    naming its items; nothing for a kind it lists none of (or when that is not known: the base
    class declares both accessors, and `list()` asks), unless `declare_all`.

    Args:
        server: the server's Python name (the docstrings' examples use it).
        offers: what the server lists; None when unknown (not listed yet).
        declare_all: declare both attributes even without items (a stub package's module,
            which has no base class to declare them).
    """
    resources = [o for o in offers or () if o.kind == "resource"]
    templates = [o for o in offers or () if o.kind == "template"]
    prompts = [o for o in offers or () if o.kind == "prompt"]
    lines: list[str] = []
    if resources or templates:
        doc = [f"{_count(len(resources), 'resource')}, {_count(len(templates), 'template')}: "
               f"`{server}.resources.read(uri)`."]
        doc += _listing(resources, lambda o: o.key, "list()")
        if templates:
            doc += ["Templates (read with their {...} parts filled in):"]
            doc += _listing(templates, lambda o: o.key, "templates()")
        lines += ["resources: Resources", *docstring(doc, "")]
    elif declare_all:
        lines.append("resources: Resources")
    if prompts:
        doc = [f"{_count(len(prompts), 'prompt')}: `{server}.prompts.get(name, **arguments)`."]
        doc += _listing(prompts, _prompt_form, "list()")
        lines += ["prompts: Prompts", *docstring(doc, "")]
    elif declare_all:
        lines.append("prompts: Prompts")
    return lines


def _prompt_form(offer: Offer) -> str:
    names = [name if required else f"{name}?" for name, _, required in offer.arguments]
    return f"{offer.key}({', '.join(names)})"


def _listing(offers: list[Offer], head: Any, more: str) -> list[str]:
    lines = [f"- {head(o)}: {_note(o)}" for o in offers[:MAX_LISTED]]
    if len(offers) > MAX_LISTED:
        lines.append(f"- ... and {len(offers) - MAX_LISTED} more: {more}")
    return lines


def _note(offer: Offer) -> str:
    # A name the uri already ends with (`.../guide.md`: guide.md) is not said twice.
    name = offer.name if offer.name and not offer.key.endswith(offer.name) else ""
    text = f"{name} ({offer.mime_type})" if name and offer.mime_type else name or offer.mime_type
    return f"{text}: {offer.summary}" if text and offer.summary else text or offer.summary or "-"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""
