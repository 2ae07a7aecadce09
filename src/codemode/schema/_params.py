"""A tool's parameters and signature as Python sees them, and the shape of its result.

Built on `_types`' annotations: the same invariants hold (pure, total, annotations as strings
that are never evaluated).
"""

from __future__ import annotations

from codemode.schema._names import NameMap
from codemode.schema._tooldef import FrozenRecord
from codemode.schema._types import NAME_KEY, annotation, is_class_name, is_named_object

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs the worker ~10 ms
if TYPE_CHECKING:
    import inspect
    from typing import Any

__all__ = [
    "NO_DEFAULT",
    "Param",
    "is_wrapped_output",
    "parameters",
    "return_annotation",
    "signature",
    "unwrap_structured",
]

#: The extension key FastMCP sets on output schemas it wrapped in `{"result": ...}`.
WRAP_MARKER = "x-fastmcp-wrap-result"


class _NoDefault:
    """The type of `NO_DEFAULT`: a parameter without a default (the caller must pass it)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_DEFAULT"

    def __reduce__(self) -> str:
        return "NO_DEFAULT"  # pickles as the module global, so identity survives a round trip


NO_DEFAULT = _NoDefault()


class Param(FrozenRecord):
    """One keyword argument of a tool, as Python sees it and as the wire spells it."""

    __slots__ = ("name", "key", "annotation", "required", "default", "description")

    name: str
    """The Python keyword (`file_path`, `from_`)."""
    key: str
    """The exact property name in the input schema (`file-path`, `from`)."""
    annotation: str
    """The type text (`int`, `Literal["a", "b"] | None`)."""
    required: bool
    """True when the schema lists the key in `required`."""
    default: object
    """The default as a JSON value, or `NO_DEFAULT` for a required parameter."""
    description: str
    """The property's description, stripped; empty when it has none."""

    def __init__(
        self,
        name: str,
        key: str,
        annotation: str,
        required: bool,
        default: object = NO_DEFAULT,
        description: str = "",
    ) -> None:
        for field, value in zip(
            self.__slots__, (name, key, annotation, required, default, description), strict=True
        ):
            object.__setattr__(self, field, value)

    def __hash__(self) -> int:
        return hash((self.name, self.key))  # `default` may be a list or dict


def parameters(input_schema: dict[str, Any]) -> list[Param]:
    """The tool's parameters: required ones first, each group in schema order.

    An optional parameter without a schema default gets `None` as its default, and `| None`
    joins its annotation: passing None means "not given" (see `drop_unset`).
    """
    props = input_schema.get("properties") if isinstance(input_schema, dict) else None
    if not isinstance(props, dict):
        return []
    required = input_schema.get("required")
    required = set(required) if isinstance(required, list) else set()
    names = NameMap.build(props, fallback="arg")
    found: list[Param] = []
    for key, prop in props.items():
        text = annotation(prop, input_schema)
        description = prop.get("description") if isinstance(prop, dict) else None
        if key in required:
            default: object = NO_DEFAULT
        else:
            default = prop.get("default") if isinstance(prop, dict) else None
            if default is None and text != "Any" and not text.endswith("| None") and text != "None":
                text += " | None"
        found.append(
            Param(names.to_python(key), key, text, key in required, default,
                  description.strip() if isinstance(description, str) else "")
        )  # fmt: skip
    found.sort(key=lambda param: not param.required)  # stable: schema order within each group
    return found


def signature(
    input_schema: dict[str, Any], output_schema: dict[str, Any] | None = None
) -> inspect.Signature:
    """An `inspect.Signature` of keyword-only parameters, annotations as strings.

    The return annotation is `return_annotation(output_schema)` when an output schema is given.
    """
    import inspect  # ~10 ms: only `help()` and completion in the worker need it

    params = [
        inspect.Parameter(
            p.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=inspect.Parameter.empty if p.default is NO_DEFAULT else p.default,
            annotation=p.annotation,
        )
        for p in parameters(input_schema)
    ]
    if output_schema is None:
        return inspect.Signature(params)
    return inspect.Signature(params, return_annotation=return_annotation(output_schema))


def is_wrapped_output(output_schema: object) -> bool:
    """True when the output schema is the SDK's `{"result": ...}` wrapper around a plain value.

    That is FastMCP's marker, or an object whose only property is the required `result` and
    whose title, if any, is the SDK's `<tool>Output` (a model that has one field named
    `result` keeps its own title and stays unwrapped).
    """
    if not isinstance(output_schema, dict):
        return False
    if output_schema.get(WRAP_MARKER) is True:
        return True
    props = output_schema.get("properties")
    title = output_schema.get("title")
    return (
        isinstance(props, dict)
        and list(props) == ["result"]
        and output_schema.get("required") == ["result"]
        and (not isinstance(title, str) or title.endswith("Output"))
    )


def unwrap_structured(output_schema: object, structured: object) -> object:
    """The tool's value from `structuredContent`: `structured["result"]` for the wrapper form."""
    if isinstance(structured, dict) and "result" in structured and is_wrapped_output(output_schema):
        return structured["result"]
    return structured


def return_annotation(output_schema: dict[str, Any] | None) -> str:
    """The return type text: the wrapped `result`'s type, a model's title, or a dict type."""
    if not isinstance(output_schema, dict) or not output_schema:
        return "Any"
    if is_wrapped_output(output_schema):
        return annotation(output_schema.get("properties", {}).get("result"), output_schema)
    title = output_schema.get("title")
    if is_named_object(output_schema) and is_class_name(title) and not isinstance(output_schema.get(NAME_KEY), str):
        return title
    return annotation(output_schema, output_schema)
