"""A server's resources, resource templates and prompts in stubs and in search: the
`resources` and `prompts` accessor classes written once per stubs text and stub package, what a
server lists named next to its attributes, and search hits shown as the call that reaches them."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from codemode.schema import (
    NameMap,
    ToolDef,
    accessors_stub,
    render_hits,
    search_tools,
    server_stub,
    stub_package,
)
from codemode.schema._names import SERVER_ATTRIBUTES
from codemode.schema._offers import Offer, call_text, offers_from_wire

OFFERS = offers_from_wire(
    resources=[{"uri": "file:///guide.md", "name": "guide.md", "mimeType": "text/markdown",
                "description": "The user guide. Long."},
               {"uri": "db://orders/schema", "name": "orders schema", "description": "Columns of the orders table"}],
    templates=[{"uriTemplate": "db://orders/{id}", "name": "Order", "description": "One order by its number"}],
    prompts=[{"name": "greeting", "title": "Greeting", "description": "Greet a customer by name",
              "arguments": [{"name": "customer", "description": "Who to greet", "required": True},
                            {"name": "tone", "description": "formal or casual"}]},
             {"name": "odd-args", "arguments": [{"name": "two words", "required": True}]},
             {"description": "no name: skipped"}])
PING = ToolDef("shop", "ping", "Check the shop answers.")
LIST_ORDERS = ToolDef("shop", "list_orders", "List the orders of a customer.",
                      {"type": "object", "properties": {"customer": {"type": "string"}}})


def test_the_accessor_classes_are_written_once_and_a_server_class_names_what_it_lists() -> None:
    text = server_stub("shop", [PING], offers=OFFERS)
    ast.parse(text)
    assert "class shop(Server):" in text and "class Resources" not in text and "def read(" not in text
    assert "    resources: Resources\n" in text and "    prompts: Prompts\n" in text
    assert "2 resources, 1 template: `shop.resources.read(uri)`." in text
    assert "- file:///guide.md: text/markdown: The user guide." in text  # its name is the uri's end
    assert "- db://orders/schema: orders schema: Columns of the orders table" in text
    assert "- db://orders/{id}: Order: One order by its number" in text
    assert "2 prompts: `shop.prompts.get(name, **arguments)`." in text
    assert "- greeting(customer, tone?): Greeting: Greet a customer by name" in text
    shared = accessors_stub()
    for method in ("def read(self, uri: str) -> dict[str, Any]:", "def templates(self) -> list[dict[str, Any]]:",
                   "async def aread(self, uri: str)", "async def atemplates(self)", "async def alist(self)",
                   "def get(self, name: str, **arguments: str) -> dict[str, Any]:",
                   "async def aget(self, name: str, **arguments: str)"):
        assert method in shared, method
    # `list` comes last in each class: once defined, `list[...]` in the class body names it.
    for body in shared.split("class Prompts:"):
        assert body.index("def list(self)") > body.index("async def alist(self)")


def test_a_server_that_lists_nothing_or_is_not_listed_yet_adds_no_lines() -> None:
    bare = server_stub("shop", [PING], offers=())
    assert bare == server_stub("shop", [PING]) and "resources" not in bare and "prompts" not in bare
    only_prompts = server_stub("shop", [PING], offers=[o for o in OFFERS if o.kind == "prompt"])
    assert "prompts: Prompts" in only_prompts and "resources: Resources" not in only_prompts


def test_a_long_listing_is_cut_and_counted() -> None:
    many = offers_from_wire(resources=[{"uri": f"mem://{i}", "name": f"item {i}"} for i in range(25)])
    text = server_stub("shop", [], offers=many)
    assert "- mem://19: item 19" in text and "mem://20" not in text and "- ... and 5 more: list()" in text


def test_a_tool_named_resources_keeps_its_trailing_underscore_beside_the_accessor() -> None:
    tools = [ToolDef("shop", "resources", "List the shop's resources."), PING]
    names = NameMap.build([t.name for t in tools], reserved=SERVER_ATTRIBUTES)
    text = server_stub("shop", tools, names, offers=OFFERS)
    tree = ast.parse(text)
    shop = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "shop")
    members = [node.name if isinstance(node, ast.FunctionDef) else ast.unparse(node.target)
               for node in shop.body if isinstance(node, (ast.FunctionDef, ast.AnnAssign))]
    assert members == ["resources_", "ping", "resources", "prompts"]


def _mypy(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", *args],
                          cwd=tmp_path, env={**os.environ, "MYPYPATH": str(tmp_path)},
                          capture_output=True, text=True, timeout=600)


USE = ("guide = shop.resources.read('file:///guide.md')\n"
       "texts: list[str] = [c['text'] for c in guide['contents']]\n"
       "uris = [r['uri'] for r in shop.resources.list()]\n"
       "hello = shop.prompts.get('greeting', customer='Ada', tone='formal')\n"
       "both = asyncio.run(shop.prompts.aget('greeting', customer='Ada'))\n"
       "shop.ping()\n")


def test_the_stub_package_has_the_accessors_and_code_using_them_passes_mypy_strict(tmp_path: Path) -> None:
    for relative, text in stub_package("shop", [PING, LIST_ORDERS], offers=OFFERS).items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text, encoding="utf-8")
    init = (tmp_path / "shop" / "__init__.pyi").read_text()
    assert "\nresources: Resources\n" in init and "\nprompts: Prompts\n" in init and "- greeting(customer, tone?)" in init
    assert "class Resources:" in (tmp_path / "shop" / "_codemode_accessors.pyi").read_text()
    (tmp_path / "use.py").write_text("import asyncio\n\nimport shop\n\n" + USE, encoding="utf-8")
    done = _mypy(tmp_path, "-p", "shop", "-m", "use")
    assert done.returncode == 0, done.stdout + done.stderr
    (tmp_path / "use.py").write_text("import shop\n\nshop.prompts.get(name=1)\n", encoding="utf-8")
    wrong = _mypy(tmp_path, "-m", "use")
    assert wrong.returncode == 1 and 'incompatible type "int"; expected "str"' in wrong.stdout, wrong.stdout


def test_an_all_servers_text_with_the_accessors_once_passes_mypy_strict(tmp_path: Path) -> None:
    # What the "stubs" disclosure shows, as one module: the shared classes, then each server.
    quiet = server_stub("quiet", [PING], offers=())
    text = accessors_stub() + "\n\n" + server_stub("shop", [PING, LIST_ORDERS], offers=OFFERS) + "\n\n" + quiet
    (tmp_path / "surface.pyi").write_text(text, encoding="utf-8")
    (tmp_path / "use.py").write_text("import asyncio\n\nfrom surface import quiet, shop\n\n" + USE
                                     + "quiet.resources.read('x://y')\nquiet.prompts.list()\n", encoding="utf-8")
    done = _mypy(tmp_path, "-m", "surface", "-m", "use")
    assert done.returncode == 0, done.stdout + done.stderr


def test_search_finds_prompts_and_resources_beside_tools_and_shows_the_call() -> None:
    tools = [("shop", "ping", PING), ("shop", "list_orders", LIST_ORDERS)]
    offers = [("shop", offer) for offer in OFFERS]
    hits = search_tools(tools, "greeting prompt", offers=offers)
    assert hits[0].kind == "prompt" and hits[0].call == 'shop.prompts.get("greeting", customer=..., tone=...)'
    hits = search_tools(tools, "user guide", offers=offers)
    assert hits[0].call == 'shop.resources.read("file:///guide.md")'
    hits = search_tools(tools, "orders", offers=offers, limit=5)
    assert {hit.kind for hit in hits} >= {"tool", "resource", "template"}
    assert search_tools(tools, "greeting prompt") == []  # no offers given: tools only
    shown = render_hits(search_tools(tools, "greet customer", offers=offers, limit=1), "signatures")
    assert shown == ('shop.prompts.get("greeting", customer=..., tone=...)  '
                     "# prompt Greeting, tone optional: Greet a customer by name")
    full = render_hits(search_tools(tools, "order by number", offers=offers, limit=1), "full")
    assert full == ("# server: shop\n# resource template Order, fill in {id}:\n# One order by its number\n"
                    'shop.resources.read("db://orders/{id}")')
    names = render_hits(search_tools(tools, "greeting", offers=offers), "names")
    assert names == 'shop.prompts.get("greeting", customer=..., tone=...)'


def test_a_prompt_argument_that_is_no_identifier_is_passed_by_a_dict() -> None:
    odd = next(offer for offer in OFFERS if offer.key == "odd-args")
    assert call_text("shop", odd) == 'shop.prompts.get("odd-args", **{"two words": ...})'
    ast.parse(call_text("shop", odd).replace("...", "'x'"))


@pytest.mark.parametrize("kinds", [(), ("resource",), ("prompt",), ("template", "prompt")])
def test_a_stub_package_declares_both_accessors_whatever_the_server_lists(kinds: tuple[str, ...]) -> None:
    # A module has no base class to declare them: a server listing prompts but no resources
    # once lost its `prompts` line there.
    offers = tuple(Offer(kind, f"{kind}://x" if kind != "prompt" else "greet") for kind in kinds)
    init = stub_package("srv", [PING], offers=offers)["srv/__init__.pyi"]
    lines = init.splitlines()
    assert lines.count("resources: Resources") == 1 and lines.count("prompts: Prompts") == 1, init
