"""What `search_tools` finds (`Hit`: a tool, or a server's resource, resource template or
prompt) and how it is shown (`render_hits`): as names, signatures or full stubs, an offer
always as the call that reaches it (`demo.resources.read("uri")`, `demo.prompts.get(...)`).

Standard library only (the sandbox worker imports this package); pure text.
"""

from __future__ import annotations

from codemode.schema._offers import call_text, offer_head, offer_note
from codemode.schema._stubs import signature_line, stub, types_stub
from codemode.schema._tooldef import FrozenRecord

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs the worker ~10 ms
if TYPE_CHECKING:
    from collections.abc import Sequence

    from codemode.schema._offers import Offer
    from codemode.schema._tooldef import ToolDef

__all__ = ["DETAILS", "Hit", "render_hits"]

#: The detail levels of `render_hits`, least to most.
DETAILS = ("names", "signatures", "full")


class Hit(FrozenRecord):
    """One tool (or resource, resource template, prompt) found by `search_tools`."""

    __slots__ = ("server", "name", "tool", "score", "offer")

    server: str
    """The server's key as cell code spells it (`demo`)."""
    name: str
    """The tool's Python name (`search_products`); an offer's key (its uri or prompt name)."""
    tool: ToolDef | None
    """The tool's MCP definition; None for an offer."""
    score: float
    """Its BM25 score for the query (higher is better), rounded to 6 places."""
    offer: Offer | None
    """The resource, template or prompt found; None for a tool."""

    def __init__(self, server: str, name: str, tool: ToolDef | None, score: float, offer: Offer | None = None) -> None:
        set_ = object.__setattr__
        set_(self, "server", server)
        set_(self, "name", name)
        set_(self, "tool", tool)
        set_(self, "score", score)
        set_(self, "offer", offer)

    @property
    def kind(self) -> str:
        """"tool", "resource", "template" or "prompt"."""
        return self.offer.kind if self.offer is not None else "tool"

    @property
    def note(self) -> str:
        """One line on what it is: a tool's summary; an offer's kind, name and summary."""
        if self.offer is not None:
            return offer_note(self.offer)
        return self.tool.summary if self.tool is not None else ""

    @property
    def call(self) -> str:
        """How code reaches it: `demo.list_orders`, `demo.resources.read("uri")`, `demo.prompts.get(...)`."""
        return call_text(self.server, self.offer) if self.offer is not None else f"{self.server}.{self.name}"




def render_hits(hits: Sequence[Hit], detail: str = "signatures") -> str:
    """The hits as text, at one of three levels of detail.

    Args:
        hits: what `search_tools` found.
        detail: "names" (`server.name` per line), "signatures" (`server.name(...) -> R` and
            the summary, one line each) or "full" (the stubs, after the `TypedDict`s they
            name; a type two servers both define is shown once, as the first defines it).

    Raises:
        ValueError: `detail` is none of the three.
    """
    if detail == "names":
        return "\n".join(hit.call for hit in hits)
    if detail == "signatures":
        return "\n".join(_signature(hit) for hit in hits)
    if detail == "full":
        types = types_stub(hit.tool for hit in hits if hit.tool is not None)
        stubs = "\n\n".join(f"# server: {hit.server}\n{_full(hit)}" for hit in hits)
        return f"{types}\n\n\n{stubs}" if types and stubs else stubs
    choices = ", ".join(repr(name) for name in DETAILS)
    raise ValueError(f"detail must be one of {choices}, not {detail!r}")


def _signature(hit: Hit) -> str:
    if hit.offer is not None:
        return f"{hit.call}  # {offer_note(hit.offer)}"
    assert hit.tool is not None
    summary = hit.tool.summary
    line = f"{hit.server}.{signature_line(hit.tool, hit.name)}"
    return f"{line}  # {summary}" if summary else line


def _full(hit: Hit) -> str:
    if hit.offer is None:
        assert hit.tool is not None
        return stub(hit.tool, hit.name)
    offer = hit.offer
    lines = [offer_head(offer) + ":"] if offer.description else [offer_head(offer)]
    lines += [line for line in offer.description.strip().splitlines() if line.strip()]
    lines += [f"{name} ({'required' if required else 'optional'}): {about}".rstrip(": ")
              for name, about, required in offer.arguments]
    return "\n".join([*("# " + line.strip() for line in lines), hit.call])
