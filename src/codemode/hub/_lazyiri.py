"""Defer `rfc3987_syntax`'s import-time parser builds to the first IRI actually checked.

The SDK validates a structured result against its tool's `outputSchema` with `jsonschema`,
importing it on the first such call. `import jsonschema` imports its format checkers, and
when `rfc3987_syntax` is installed (Jupyter's `jsonschema[format-nongpl]` brings it), that
module builds about 30 Earley parsers with Lark at import: 1.0-1.4 s here, about half of a
first tool call's time, spent in every process that validates anything, for a format check
that only runs when a validator is given a `FormatChecker` and meets `"format": "iri"` (the
SDK's validator is given none).

`install()` registers a stand-in under the module's name before `jsonschema` is imported.
`jsonschema` takes `is_valid_syntax` from it (the one name it imports); that function, and
any other attribute or submodule asked of the stand-in, import the real module first and
then use it. Every check gives the answer it gave before; only the time of the build moves.

Invariants: nothing happens when `jsonschema` or `rfc3987_syntax` is already imported, or
when `rfc3987_syntax` or `lark` is not installed (jsonschema then registers no IRI checker,
as before); once the real module is loaded the stand-in is out of `sys.modules`.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from typing import Any

_NAME = "rfc3987_syntax"
_lock = threading.Lock()


class _Deferred(types.ModuleType):
    """The stand-in: asking it for anything it does not hold loads the real module."""

    def __getattr__(self, name: str) -> Any:
        return getattr(_real(), name)


def _real() -> types.ModuleType:
    with _lock:
        module = sys.modules.get(_NAME)
        if isinstance(module, _Deferred):
            del sys.modules[_NAME]
            try:
                module = importlib.import_module(_NAME)
            except BaseException:
                sys.modules[_NAME] = _STAND_IN
                raise
        elif module is None:
            module = importlib.import_module(_NAME)
        return module


def is_valid_syntax(term: str, value: str) -> bool:
    """`rfc3987_syntax.is_valid_syntax`, from the real module (loaded on the first call)."""
    return bool(_real().is_valid_syntax(term, value))


_STAND_IN = _Deferred(_NAME, "Stands in for rfc3987_syntax until it is used (see codemode.hub._lazyiri).")
_STAND_IN.is_valid_syntax = is_valid_syntax  # type: ignore[attr-defined]


def install() -> bool:
    """Put the stand-in in place if it can help; True if it is in place."""
    if "jsonschema" in sys.modules or _NAME in sys.modules:
        return sys.modules.get(_NAME) is _STAND_IN
    spec = importlib.util.find_spec(_NAME)
    if spec is None or spec.submodule_search_locations is None or importlib.util.find_spec("lark") is None:
        return False
    # With a `__path__`, `from rfc3987_syntax import ...` looks the names up on the stand-in
    # (a module without one would be asked for it, which loads the real one).
    _STAND_IN.__path__ = list(spec.submodule_search_locations)
    _STAND_IN.__file__ = spec.origin  # read by walks over sys.modules (inspect.getmodule)
    sys.modules.setdefault(_NAME, _STAND_IN)
    return sys.modules[_NAME] is _STAND_IN
