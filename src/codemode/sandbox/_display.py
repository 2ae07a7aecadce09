"""Rich output inside the worker: `display()`, display handles and the cell result's MIME bundle.

Runs inside the worker: standard library only. It follows IPython's formatter protocol
(`_repr_mimebundle_`, then `_repr_html_`, `_repr_markdown_`, `_repr_latex_`, `_repr_json_`,
`_repr_png_`, `_repr_jpeg_`, `_repr_svg_`, and `repr` for text/plain), so objects show as
they would in IPython: a pandas DataFrame as a table, a matplotlib figure as a PNG. pandas and
matplotlib are never imported here: a figure is recognised by its class's module, and the
matplotlib backend (`_mpl_backend`) is named in MPLBACKEND, loaded only by a cell's own
`import matplotlib`.

Nothing here is trusted by the host: it sanitizes every bundle, refuses script and widget
types, and caps sizes (`codemode.outputs`). The worker only keeps a frame under the channel's
limit by dropping representations that could never pass the host's cap anyway.
"""

from __future__ import annotations

import base64
import itertools
import json
import sys

TYPE_CHECKING = False  # importing `typing` costs ~10 ms of worker start-up
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

# A representation over this many characters is dropped in the worker (the host's own cap
# is lower; this one only keeps a frame under the channel's 32 MiB limit).
MAX_REPRESENTATION = 8 * 1024 * 1024
_TEXT_CHARS = 100_000

# IPython's formatters, in its order; binary types travel as base64 text, as in nbformat.
_REPR_METHODS = (
    ("text/html", "_repr_html_"),
    ("text/markdown", "_repr_markdown_"),
    ("text/latex", "_repr_latex_"),
    ("application/json", "_repr_json_"),
    ("image/png", "_repr_png_"),
    ("image/jpeg", "_repr_jpeg_"),
    ("image/svg+xml", "_repr_svg_"),
    ("application/javascript", "_repr_javascript_"),
    ("application/pdf", "_repr_pdf_"),
)
_BINARY = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"})

# Installed by the worker: sends one frame (the channel's `send`, after flushing the streams).
_send: Callable[[dict[str, Any]], None] | None = None
_ids = itertools.count(1)


def has_rich_repr(value: Any) -> bool:
    """Whether `value` shows as more than text in IPython (so the cell result is a bundle)."""
    if _is_figure(value):
        return True
    kind = type(value)
    return any(hasattr(kind, method) for method in ("_repr_mimebundle_", *(m for _, m in _REPR_METHODS)))


def mimebundle(value: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The MIME bundle and metadata IPython would show for `value` (text/plain always there)."""
    data: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    if _is_figure(value):
        data["image/png"] = _figure_png(value)
    else:
        method = getattr(type(value), "_repr_mimebundle_", None)
        if method is not None:
            _merge(data, metadata, _call(lambda: value._repr_mimebundle_(include=None, exclude=None)))
        for mime, name in _REPR_METHODS:
            if mime not in data and hasattr(type(value), name):
                found = _call(getattr(value, name))
                if isinstance(found, tuple) and len(found) == 2:
                    found, meta = found
                    if isinstance(meta, dict):
                        metadata[mime] = meta
                if found is not None:
                    data[mime] = found
    for mime in list(data):
        encoded = _encode(mime, data[mime])
        if encoded is None:
            del data[mime]
        else:
            data[mime] = encoded
    if not isinstance(data.get("text/plain"), str):
        data["text/plain"] = _text(value)
    return data, {k: v for k, v in metadata.items() if k in data and _jsonable(v)}


def display(*objs: Any, raw: bool = False, include: Any = None, exclude: Any = None, metadata: Any = None,
            display_id: Any = None, **kwargs: Any) -> DisplayHandle | None:
    """Show objects in the cell's output, in order with what the cell prints (as IPython's).

    Args:
        objs: the objects; each shows as what IPython would show for it (a table, an image).
        raw: the objects are MIME bundles already (dicts of MIME type → data).
        display_id: True for a new id, or a string: the output can then be updated in place
            with the returned handle's `update(obj)`.

    Returns:
        A DisplayHandle when `display_id` was given, else None.
    """
    handle = None
    if display_id is not None:
        handle = DisplayHandle(None if display_id is True else str(display_id))
    for obj in objs:
        _publish(obj, raw=raw, metadata=metadata, display_id=handle.display_id if handle else None, update=False)
    return handle


def update_display(obj: Any, *, display_id: str, raw: bool = False, metadata: Any = None, **kwargs: Any) -> None:
    """Replace the output shown under `display_id` with `obj`."""
    _publish(obj, raw=raw, metadata=metadata, display_id=str(display_id), update=True)


class DisplayHandle:
    """An output that can be shown again or updated in place (IPython's DisplayHandle)."""

    def __init__(self, display_id: str | None = None) -> None:
        self.display_id = display_id if display_id is not None else f"cell-output-{next(_ids)}"

    def __repr__(self) -> str:
        return f"<DisplayHandle display_id={self.display_id}>"

    def display(self, obj: Any, **kwargs: Any) -> None:
        """Show `obj` as a new output under this id."""
        display(obj, display_id=self.display_id, **kwargs)

    def update(self, obj: Any, **kwargs: Any) -> None:
        """Replace what this handle shows with `obj`."""
        update_display(obj, display_id=self.display_id, **kwargs)


def show_figures(figures: list[Any]) -> None:
    """Show matplotlib figures (the backend's `show`, and open figures at a cell's end)."""
    for figure in figures:
        _publish(figure, raw=False, metadata=None, display_id=None, update=False)


def _publish(obj: Any, *, raw: bool, metadata: Any, display_id: str | None, update: bool) -> None:
    if raw and isinstance(obj, dict):
        data = {str(k): v for k, v in obj.items()}
        for mime in list(data):
            encoded = _encode(mime, data[mime])
            if encoded is None:
                del data[mime]
            else:
                data[mime] = encoded
        meta: dict[str, Any] = {}
    else:
        data, meta = mimebundle(obj)
    if isinstance(metadata, dict) and _jsonable(metadata):
        meta.update(metadata)
    assert _send is not None, "the worker installs the sender before running cells"
    _send({"op": "display", "data": data, "metadata": meta, "display_id": display_id, "update": update})


def _merge(data: dict[str, Any], metadata: dict[str, Any], found: Any) -> None:
    if isinstance(found, tuple) and len(found) == 2:
        found, meta = found
        if isinstance(meta, dict):
            metadata.update(meta)
    if isinstance(found, dict):
        data.update({str(k): v for k, v in found.items()})


def _call(method: Callable[[], Any]) -> Any:
    try:
        return method()
    except Exception as exc:  # noqa: BLE001 - as IPython: a broken _repr_*_ shows as a warning, not a failure
        print(f"codemode: {type(exc).__name__} in a display method: {exc}", file=sys.stderr)
        return None


def _encode(mime: str, value: Any) -> Any:
    """The representation as nbformat carries it (JSON, base64 for binary), or None."""
    if mime in _BINARY:
        if isinstance(value, (bytes, bytearray, memoryview)):
            value = base64.b64encode(bytes(value)).decode("ascii")
        if not isinstance(value, str):
            return None
    elif mime == "application/json" or mime.endswith("+json"):
        if not _jsonable(value):
            return None
    elif isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("utf-8", "replace")
    elif not isinstance(value, str):
        return None
    if isinstance(value, str) and len(value) > MAX_REPRESENTATION:
        return None
    return value


def _jsonable(value: Any) -> bool:
    try:
        return len(json.dumps(value, allow_nan=False)) <= MAX_REPRESENTATION
    except (TypeError, ValueError, RecursionError):
        return False


def _text(value: Any) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # noqa: BLE001 - a broken __repr__ must not break the output
        text = f"<{type(value).__name__} object; repr() failed: {exc!r}>"
    return text if len(text) <= _TEXT_CHARS else text[:_TEXT_CHARS] + "…"


def _is_figure(value: Any) -> bool:
    # By module, not isinstance: this module never imports matplotlib.
    kind = type(value)
    return kind.__module__ == "matplotlib.figure" and kind.__name__ in ("Figure", "SubFigure") \
        and hasattr(value, "savefig")


def _figure_png(figure: Any) -> bytes:
    import io

    buffer = io.BytesIO()
    # No "Software" text chunk (it names the version) and no date: a PNG of the same data is
    # the same bytes on every run, so saved notebooks compare equal under nbval.
    figure.savefig(buffer, format="png", bbox_inches="tight", metadata={"Software": None})
    return buffer.getvalue()


class IPythonDisplayHook:
    """Makes `from IPython.display import display` inside a cell mean this module's display.

    Outside a kernel IPython's own `display` only prints its objects' reprs, and cells written
    in a notebook import it. A meta-path finder that waits for IPython's module of display
    functions to be imported and swaps in ours: IPython itself is never imported here.
    """

    _TARGET = "IPython.core.display_functions"

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != self._TARGET:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                # A loader by duck typing: importlib.abc would cost the worker an import.
                spec.loader = _PatchingLoader(spec.loader)  # type: ignore[assignment]
                return spec
        return None


class _PatchingLoader:
    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        module.display = display
        module.update_display = update_display


def open_figures(shown_result: Any = None) -> list[Any]:
    """pyplot's open figures (none if the cell never imported pyplot), except `shown_result`."""
    if "matplotlib.pyplot" not in sys.modules:
        return []
    from matplotlib._pylab_helpers import Gcf

    figures = [manager.canvas.figure for manager in Gcf.get_all_fig_managers()]
    return [figure for figure in figures if figure is not shown_result]


def close_figures() -> None:
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")
