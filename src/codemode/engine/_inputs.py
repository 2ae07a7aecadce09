"""Kernel data into a run: `Session.run(code, inputs={...})`, `%%codemode --in`, `--input`.

Inputs are JSON data (dicts with string keys, lists, strings, numbers, booleans, None),
checked here on the host and sent in the `exec` frame; the worker binds each as a variable
before the code runs. Nothing else crosses: no pickles, no objects of the kernel, so the
sandbox gets a copy of the data and never a reference into the host.
"""

from __future__ import annotations

import keyword
import math
from collections.abc import Mapping
from typing import Any

from codemode.errors import CodemodeError
from codemode.shared.words import a_or_an

# A frame from the host is capped at 256 MiB (sandbox._frames.MAX_HOST_FRAME); inputs get
# a quarter of it, with room left for the code and the frame's own keys.
MAX_INPUT_BYTES = 64 * 1024 * 1024
# Deeper than this is a cycle or a structure no JSON encoder would take.
_MAX_DEPTH = 200

# What to do with the kinds of data people most often have in a kernel.
_ADVICE = {
    "DataFrame": 'df.to_dict("records")',
    "Series": "series.tolist()",
    "ndarray": "array.tolist()",
    "datetime": "value.isoformat()",
    "date": "value.isoformat()",
    "Decimal": "float(value) or str(value)",
    "set": "sorted(value)",
    "frozenset": "sorted(value)",
    "bytes": 'value.decode() or base64.b64encode(value).decode("ascii")',
    "Path": "str(value)",
}


class InputError(CodemodeError):
    """An input of a run is not a variable name or not JSON data.

    Attributes:
        name: the input's name.
        where: the path to the bad value inside it (`orders[3]["when"]`).
    """

    code = "INVALID_INPUT"

    def __init__(self, name: str, problem: str, where: str = "") -> None:
        self.name = name
        self.where = where or name
        self.problem = problem
        super().__init__(f"input {name!r}: {problem}")


def check_inputs(inputs: Mapping[str, Any] | None, reserved: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The inputs as plain JSON data, checked: names are Python identifiers (not a server's
    name), values are JSON data.

    Args:
        inputs: variable name → value.
        reserved: names the worker already binds (the servers), which an input may not hide.

    Returns:
        A copy with tuples as lists and every mapping a dict.

    Raises:
        InputError: naming the input, where in it the bad value is, and what to do.
    """
    if not inputs:
        return {}
    checked: dict[str, Any] = {}
    for name, value in inputs.items():
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            raise InputError(str(name), "an input needs a Python variable name")
        if name.startswith("__"):
            raise InputError(name, "names starting with __ are the worker's own; choose another name")
        if name in reserved:
            raise InputError(name, f"{name!r} is a server of this session; bind the data to another name")
        checked[name] = _plain(name, value, name, 0)
    size = _size(checked)
    if size > MAX_INPUT_BYTES:
        raise InputError(", ".join(checked), f"the inputs are {size:,} bytes of JSON, over the "
                         f"{MAX_INPUT_BYTES:,}-byte limit; pass less data, or a file in the work dir")
    return checked


def _plain(name: str, value: Any, where: str, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise InputError(name, f"{where} is nested more than {_MAX_DEPTH} levels deep (a cycle?)", where)
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)  # an IntEnum or a bool subclass becomes the plain number
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(name, f"{where} is {value}, which JSON cannot carry; use None or a string", where)
        return float(value)
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InputError(name, f"{where} has a key {key!r} that is not a string "
                                 "(JSON object keys are strings); convert the keys with str()", where)
            out[key] = _plain(name, item, f"{where}[{key!r}]", depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(name, item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value)]
    kind = type(value).__name__
    advice = _ADVICE.get(kind)
    fix = f"; convert it first, e.g. {advice}" if advice else \
        "; convert it to dicts, lists, strings, numbers, booleans or None first"
    raise InputError(name, f"{where} is {a_or_an(kind)}, not JSON data{fix}", where)


def _size(data: dict[str, Any]) -> int:
    """Bytes of JSON the inputs take in the frame that carries them."""
    from codemode.sandbox._frames import HEADER, encode

    return len(encode(data)) - HEADER.size
