"""Progressive disclosure: find tools (and resources, prompts) by what they do, then show them
at a chosen detail.

`search_tools` ranks tools with BM25 over weighted fields (the simple form of BM25F: a term's
frequency is summed over the fields times each field's boost, and so is the length):

| field | boost | what it holds |
| --- | --- | --- |
| name | 3 | the words of the Python name, the MCP name and the server's key and name |
| title | 2 | the tool's display title |
| description | 1 | the tool's description |
| params | 1 | each parameter's name and description, and its string enum values |

A server's resources, resource templates and prompts (`Offer`s) are documents beside its
tools: the key (uri, uri template, prompt name) and name as the name, the kind ("resource",
"resource template", "prompt") as the title, the description, and a prompt's argument names
and descriptions as params. A hit on one shows as the call that reads or gets it (`_hits`).

Text becomes terms by lower-casing runs of two or more letters and digits (`_` and `-`
split), dropping a few stop words, and a light stemmer (plurals, -ing, -ed, a final e, a
doubled consonant), on the tools and on the query alike, so `orders` finds `get_order` and
`cancelled` finds `cancel_order`. Names (of tools, servers, parameters) and the query are
also split at ASCII camelCase humps, keeping the whole too: `searchProducts` gives
`searchproducts`, `search` and `products`. A query word that is also a word of a tool's
name, as written, scores again (`orders` ranks `list_orders` above `get_order`).

Invariants:
- Standard library only, imported lazily (`re`, `math` on the first search): the sandbox
  worker imports this package, and only the host searches.
- Bounded: a query counts up to MAX_QUERY_CHARS characters and MAX_QUERY_WORDS words.
- Deterministic: equal scores rank by server key, then Python name. Only tools that match at
  least one query term are returned; a query with no terms returns nothing.
- The index is built on each call from one document per tool, cached by value (a changed
  tool is a new key): over 312 tools a first search takes about 8 ms on a slow 2-core VM,
  a repeated one under 1 ms.
"""

from __future__ import annotations

from codemode.schema._hits import DETAILS, Hit, render_hits
from codemode.schema._names import _words as identifier_words
from codemode.schema._types import resolve_ref

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs the worker ~10 ms
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from codemode.schema._offers import Offer
    from codemode.schema._tooldef import ToolDef

__all__ = ["DETAILS", "Hit", "render_hits", "search_tools"]

#: BM25's term-frequency saturation and length normalisation, at their usual values.
K1 = 1.2
B = 0.75

#: Field boosts: a word of the name says most about what a tool does.
BOOSTS = {"name": 3.0, "server": 1.0, "title": 2.0, "description": 1.0, "params": 1.0}

#: Words that say nothing about what a tool does.
STOP_WORDS = frozenset(
    "a an and are as at be by can do does for from has have how i if in into is it its me my "
    "no not of on or so that the their then there these this those to was we what when which "
    "will with you your".split()
)

#: Words people search with for what tools name otherwise (a query word also looks for these,
#: at `SYNONYM_WEIGHT`): the verbs and nouns of files, version control, graphs and time.
#: Keys are words or stems; small on purpose, each pair seen in real queries.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "history": ("log", "commit"), "log": ("history",), "remove": ("delete",), "delete": ("remove",),
    "erase": ("delete",), "rename": ("move",), "switch": ("checkout",), "compare": ("diff", "difference"),
    "difference": ("diff",), "unstage": ("reset",), "make": ("create",), "mkdir": ("directory", "create"),
    "new": ("create",), "find": ("search",), "lookup": ("search", "get"), "fetch": ("get", "read"),
    "show": ("get", "list"), "open": ("read",), "folder": ("directory",), "dir": ("directory",),
    "now": ("current",), "clock": ("time",), "zone": ("timezone",), "plus": ("sum",), "total": ("sum",),
    "picture": ("image",), "photo": ("image",), "env": ("environment",), "ls": ("list", "directory"),
    "cat": ("read",), "save": ("write",), "store": ("write", "create"), "modify": ("edit",),
    "change": ("edit",), "update": ("edit",), "link": ("relation",), "fact": ("observation",),
}

#: What a synonym's match is worth against the word's own.
SYNONYM_WEIGHT = 0.6

#: A query is read up to this many characters and this many distinct words: a search costs
#: words × tools, and a cell chooses the query (a million words held the host for 10 s).
MAX_QUERY_CHARS = 1000
MAX_QUERY_WORDS = 32

#: How deep to look for enum values in a parameter's schema (anyOf, $ref, items, ...).
_ENUM_DEPTH = 4

#: Prefix of a name word as written (unstemmed) in the index and the query.
_EXACT = "="

#: Documents built so far, keyed by (server key, Python name, tool): a session searches the
#: same tools again and again. Cleared when this large.
_DOCUMENT_CACHE_MAX = 5_000
_documents: dict[tuple[str, str, ToolDef], tuple[dict[str, float], float]] = {}
_offer_documents: dict[tuple[str, Offer], tuple[dict[str, float], float]] = {}

#: Terms of the words seen so far (tool texts repeat from search to search); cleared when
#: this large.
_TERM_CACHE_MAX = 20_000
_terms: dict[str, str] = {}


def search_tools(
    entries: Iterable[tuple[str, str, ToolDef]], query: str, *, limit: int = 10,
    offers: Iterable[tuple[str, Offer]] = (),
) -> list[Hit]:
    """The tools that best match `query`, best first (BM25 over name, title, description, params).

    Args:
        entries: (server key, Python name, tool) for every tool to search.
        query: words describing the tool wanted, e.g. "read file" or "open orders".
        limit: the most hits to return.
        offers: (server key, offer) for the resources, templates and prompts to search beside
            the tools: an offer's key and name count as a name, its argument names as params.

    Returns:
        At most `limit` hits with a positive score; none for a query without terms.
    """
    groups = _query_groups(query)
    if not groups or limit < 1:
        return []
    items: list[tuple[str, str, ToolDef | None, Offer | None]] = [(s, n, t, None) for s, n, t in entries]
    items += [(server, offer.key, None, offer) for server, offer in offers]
    docs = [_document(server, name, tool) if tool is not None else _offer_document(server, offer)
            for server, name, tool, offer in items]
    if not docs:
        return []
    terms = list(dict.fromkeys(term for group in groups for term, _ in group))
    weights = _idf(terms, [freqs for freqs, _ in docs])
    average = sum(length for _, length in docs) / len(docs) or 1.0
    hits = []
    for (server, name, tool, offer), (freqs, length) in zip(items, docs, strict=True):
        norm = K1 * (1 - B + B * length / average)
        score, matched = 0.0, 0
        for group in groups:
            found = False
            for term, factor in group:
                tf = freqs.get(term)
                if tf and term in weights:
                    score += factor * weights[term] * tf * (K1 + 1) / (tf + norm)
                    found = True
            matched += found
        if score > 0:
            # Lucene's coord factor: a tool that matches every word of the query beats one
            # that matches one word many times (`switch branch`: git_checkout, not git_branch).
            score *= (matched / len(groups)) ** 2
            hits.append(Hit(server, name, tool, round(score, 6), offer))
    hits.sort(key=lambda hit: (-hit.score, hit.server, hit.name))
    return hits[:limit]


def _query_groups(query: str) -> list[list[tuple[str, float]]]:
    """The query's words, each as its terms with their weights: the stem, the word as written
    (it matches name words), and the stems of its synonyms at `SYNONYM_WEIGHT`."""
    words = list(dict.fromkeys(word for word in _text_words(query[:MAX_QUERY_CHARS]) if word not in STOP_WORDS))
    groups = []
    del words[MAX_QUERY_WORDS:]
    for word in words:
        group = [(_term(word), 1.0), (_EXACT + word, 1.0)]
        for other in SYNONYMS.get(word, ()) + SYNONYMS.get(_term(word), ()):
            if (_term(other), 1.0) not in group:
                group.append((_term(other), SYNONYM_WEIGHT))
        groups.append(group)
    return groups


def _idf(terms: list[str], docs: list[dict[str, float]]) -> dict[str, float]:
    """BM25's inverse document frequency of each term that occurs in some document."""
    import math

    weights = {}
    for term in terms:
        found = sum(1 for freqs in docs if term in freqs)
        if found:
            weights[term] = math.log(1 + (len(docs) - found + 0.5) / (found + 0.5))
    return weights


def _document(server: str, name: str, tool: ToolDef) -> tuple[dict[str, float], float]:
    """One tool's boosted term frequencies and boosted length, from the cache when seen."""
    key = (server, name, tool)  # a ToolDef compares by value: a changed tool is a new key
    document = _documents.get(key)
    if document is None:
        if len(_documents) >= _DOCUMENT_CACHE_MAX:
            _documents.clear()
        document = _documents[key] = _build_document(server, name, tool)
    return document


def _offer_document(server: str, offer: Offer | None) -> tuple[dict[str, float], float]:
    """A resource's (template's, prompt's) document: its key and name as the name, its kind
    as the title, its description, and a prompt's arguments as params."""
    assert offer is not None
    key = (server, offer)
    document = _offer_documents.get(key)
    if document is None:
        if len(_offer_documents) >= _DOCUMENT_CACHE_MAX:
            _offer_documents.clear()
        arguments = " ".join(name for name, _, _ in offer.arguments)
        about = "\n".join(about for _, about, _ in offer.arguments)
        kind = "resource template" if offer.kind == "template" else offer.kind
        document = _offer_documents[key] = _fields_document(
            f"{offer.key} {offer.name}", server, kind, offer.description, arguments, about)
    return document


def _build_document(server: str, name: str, tool: ToolDef) -> tuple[dict[str, float], float]:
    keys, prose = _param_texts(tool.input_schema)
    return _fields_document(f"{name} {tool.name}", f"{server} {tool.server}", tool.title or "", tool.description,
                            keys, prose)


def _fields_document(name: str, server: str, title: str, description: str, keys: str,
                     prose: str) -> tuple[dict[str, float], float]:
    names = list(dict.fromkeys(word for word in _text_words(name) if word not in STOP_WORDS))
    servers = [w for w in dict.fromkeys(_text_words(server)) if w not in STOP_WORDS]
    fields = (
        (BOOSTS["name"], names),
        (BOOSTS["server"], servers),
        (BOOSTS["title"], _prose_words(title)),
        (BOOSTS["description"], _prose_words(description)),
        (BOOSTS["params"], _text_words(keys) + _prose_words(prose)),
    )
    freqs: dict[str, float] = {}
    length = 0.0
    terms = _terms
    for boost, words in fields:
        for word in words:
            term = terms.get(word)
            if term is None:
                term = _term(word)
            if term:
                freqs[term] = freqs.get(term, 0.0) + boost
                length += boost
    for word in names:  # the exact forms score again, without lengthening the document
        freqs[_EXACT + word] = BOOSTS["name"]
    for word in servers:
        freqs.setdefault(_EXACT + word, BOOSTS["server"])
    return freqs, length


def _param_texts(schema: object) -> tuple[str, str]:
    """The parameters' names, and their descriptions and string enum values, as two texts."""
    props = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(props, dict):
        return "", ""
    prose: list[str] = []
    for prop in props.values():
        if isinstance(prop, dict):
            description = prop.get("description")
            if isinstance(description, str):
                prose.append(description)
            prose += _enum_values(prop, schema, 0)
    return " ".join(str(key) for key in props), "\n".join(prose)


def _enum_values(node: object, root: object, depth: int) -> list[str]:
    """String `enum` and `const` values in a schema, through anyOf, oneOf, items and `$ref`."""
    if depth > _ENUM_DEPTH or not isinstance(node, dict):
        return []
    values = [v for v in node.get("enum") or () if isinstance(v, str)]
    if isinstance(node.get("const"), str):
        values.append(node["const"])
    ref = node.get("$ref")
    if isinstance(ref, str):
        values += _enum_values(resolve_ref(root, ref), root, depth + 1)
    for key in ("anyOf", "oneOf", "allOf"):
        for option in node.get(key) or ():
            values += _enum_values(option, root, depth + 1)
    values += _enum_values(node.get("items"), root, depth + 1)
    return values


_runs: Any = None  # `re.compile(...).findall` of letter-and-digit runs, on the first search
_humps: Any = None  # `re.compile(...).search` of an ASCII camelCase hump


def _prose_words(text: str) -> list[str]:
    """Lower-case words of two or more letters and digits (one letter says nothing here:
    the s of "order's", the e and g of "e.g.")."""
    global _runs, _humps
    if _runs is None:
        import re

        _runs = re.compile(r"[^\W_]{2,}").findall
        _humps = re.compile(r"[a-z0-9][A-Z]|[A-Z][A-Z][a-z]").search
    words: list[str] = _runs(text.lower())
    return words


def _text_words(text: str) -> list[str]:
    """The words of names and queries: `_prose_words`, with each ASCII camelCase run also
    split at its humps (`searchProducts`: `searchproducts`, `search`, `products`)."""
    words = _prose_words(text)  # compiles the patterns on the first call
    if not _humps(text):
        return words
    words = []
    for run in _runs(text):
        tail = run[1:]
        if tail == tail.lower() or run.isupper() or run[:-1].isupper():  # word, WORD, WORDs
            words.append(run.lower())
            continue
        parts = [part.lower() for part in identifier_words(run)]
        words.append(run.lower())
        words += [part for part in parts if len(part) > 1] if len(parts) > 1 else ()
    return words


def _term(word: str) -> str:
    """`word`'s term: its stem, or "" for a stop word; from the cache when seen before."""
    term = _terms.get(word)
    if term is None:
        if len(_terms) >= _TERM_CACHE_MAX:
            _terms.clear()
        term = _terms[word] = "" if word in STOP_WORDS else _strip_suffixes(word)
    return term


def _strip_suffixes(word: str) -> str:
    """A light English stemmer: orders, ordering, ordered → order; files, file → fil.

    One suffix goes (-ies/-ied → y, -sses → ss, -xes/-ches/-shes → the root, -ing and -ed
    after a vowel, a plural -s), then a final e and one of a doubled consonant other than s,
    so `shipped` meets `ship`, `cancelled` meets `cancel` and `created` meets `create`. Words
    with digits, and words under three letters, stay as they are.
    """
    if len(word) < 3 or not word.isalpha():
        return word
    if word.endswith(("ies", "ied")) and len(word) > 4:
        stem = word[:-3] + "y"
    elif word.endswith(("sses", "xes", "ches", "shes")):
        stem = word[:-2]
    elif word.endswith("ing") and _has_vowel(word[:-3]):
        stem = word[:-3]
    elif word.endswith("ed") and not word.endswith("eed") and _has_vowel(word[:-2]):
        stem = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        stem = word[:-1]
    else:
        stem = word
    if stem.endswith("e") and len(stem) > 2:
        stem = stem[:-1]
    if len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in "aeiouys":
        stem = stem[:-1]
    return stem


def _has_vowel(text: str) -> bool:
    return any(char in "aeiouy" for char in text)
