"""How a code-mode cell shows in a notebook while it runs and when it ends, for the magics.

A person watching (`interactive`) gets a live panel of the calls (`LiveCalls`) that becomes
the finished report; a run nobody watches (nbclient, nbval, nbconvert) gets its outputs held
and shown once, in their final state (`Unattended`); the cell's printed text and display
outputs come out in the order they came (`show_event`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from IPython.display import clear_output, display, update_display

if TYPE_CHECKING:
    from codemode.engine import Event
    from codemode.trace import RunReport


def interactive(shell: Any) -> bool:
    """Whether a person watches the cell: a Jupyter front end that takes input (JupyterLab,
    Notebook, VS Code). nbval, nbclient, nbconvert and papermill execute with stdin off;
    they get no live panel and no display updates, only the finished report."""
    kernel = getattr(shell, "kernel", None)
    return kernel is not None and bool(getattr(kernel, "_allow_stdin", False))


class LiveCalls:
    """The run's tool calls as they happen, in one display updated in place.

    Made at the run's first tool call, it becomes the finished report at the end (`become`),
    so a saved cell holds the report and never an empty output; a run that made no call
    never made a panel, and its report (if any) is displayed as usual.

    The saved cell must read as nbclient saves it (`Unattended`): what the code printed and
    displayed, then the report. When anything came out below the panel (a print, a display,
    a person's answer to an approval, which the front end keeps as a `stdin` output),
    `settle` clears the cell's outputs and shows them again in their final state, and the
    report is then displayed last, as a new output.
    """

    INTERVAL = 0.1  # seconds between updates: a flood of calls must not flood the front end

    def __init__(self, code: str) -> None:
        self._code = code
        self._calls: dict[int, Any] = {}
        self._more = 0  # ended calls past the ones kept whole (trace._calllog)
        self._handle: Any = None
        self._last = 0.0
        self._pending = False
        self._shown: list[Event] = []  # the cell's outputs, in order, to show again (`settle`)
        self._below = False  # something came out under the panel

    def on_event(self, event: Event) -> None:
        kind, data = event
        if kind in ("call", "progress", "waiting"):
            if data.kept or kind == "waiting" or data.id in self._calls:  # kept whole; the rest only counted
                self._calls[data.id] = data
            elif data.ok is not None and kind == "call":
                self._more += 1
            self._pending = True
            self._below = self._below or kind == "waiting"  # the question and its answer go below
        elif kind in ("stdout", "stderr", "display"):
            self._shown.append(event)
            self._below = self._below or self._handle is not None
            show_event(event)
        elif kind != "tick":
            show_event(event)
        now = time.monotonic()
        # A call waiting for a person's answer shows at once: the question follows it.
        if self._pending and (kind == "waiting" or now - self._last >= self.INTERVAL):
            self._update(now)

    def _update(self, now: float) -> None:
        self._last, self._pending = now, False
        from codemode.trace import RunReport

        snapshot = RunReport(code=self._code, ok=True, calls=tuple(self._calls.values()), running=True,
                             streams_shown=True, call_count=len(self._calls) + self._more)
        data, metadata = snapshot._repr_mimebundle_()
        if self._handle is None:
            self._handle = display(data, metadata=metadata, raw=True, display_id=True)
        else:
            self._handle.update(data, metadata=metadata, raw=True)

    def settle(self, more: bool = False) -> None:
        """End the live part: when anything is below the panel (or `more`, the magic has
        something to say before the report), clear the cell and show its outputs again, in
        their final state, without the panel; the report then comes last (`become` is False)."""
        if self._handle is None or not (self._below or more):
            return
        self._handle = None
        clear_output(wait=True)  # at the next output: no flash of an empty cell
        for kind, data in _final(self._shown):
            show_event((kind, data))
        self._shown = []

    def become(self, report: RunReport) -> bool:
        """Show the finished report in the panel; False when there is no panel."""
        if self._handle is None:
            return False
        data, metadata = report._repr_mimebundle_()
        self._handle.update(data, metadata=metadata, raw=True)
        return True

    def close(self) -> None:
        """The run ended without a report (the session failed): the panel says so."""
        if self._handle is not None:
            self._handle.update({"text/plain": "codemode: the run ended without a report"}, raw=True)


class Unattended:
    """The outputs of a run nobody watches (nbclient, nbval, nbconvert: stdin is off).

    From the first display() with a display id on, outputs are held and shown when the run
    ends, in order, each display-id output once in its final state and no updates: nbval
    ignores update_display_data and compares a cell's first display with the saved one, so
    a progress line updated in place must reach the notebook as it ends.
    """

    def __init__(self) -> None:
        self._held: list[Event] | None = None

    def on_event(self, event: Event) -> None:
        kind, data = event
        if self._held is None and kind == "display" and data.get("display_id"):
            self._held = []
        if self._held is not None and kind in ("stdout", "stderr", "display"):
            self._held.append(event)
        else:
            show_event(event)

    def finish(self, report: RunReport | None) -> None:
        for event in _final(self._held or ()):
            show_event(event)
        self._held = None


def _final(events: Sequence[Event]) -> list[Event]:
    """Outputs as a saved notebook keeps them: each display once, in its last state, where it
    was first shown; its updates dropped; no display ids (nothing updates them any more)."""
    finals: dict[str, Any] = {}
    for kind, data in events:
        if kind == "display" and data.get("display_id"):
            if data.get("update"):
                finals[data["display_id"]] = data
            else:
                finals.setdefault(data["display_id"], data)
    shown: list[Event] = []
    for kind, data in events:
        if kind == "display":
            if data.get("update"):
                continue
            final = finals.get(data.get("display_id")) if data.get("display_id") else None
            data = {**data, **({"data": final["data"], "metadata": final["metadata"]} if final else {}), "display_id": None, "update": False}
        shown.append((kind, data))
    return shown


def show_event(event: Event) -> None:
    """Print the cell's output, and show its display outputs, in the order they came."""
    kind, data = event
    if kind == "stdout":
        sys.stdout.write(data)
    elif kind == "stderr":
        sys.stderr.write(data)
    elif kind == "display":
        sys.stdout.flush()  # what the cell printed before it comes first
        sys.stderr.flush()
        # Prefixed: a cell's ids must not collide with the front end's other displays.
        display_id = f"codemode-{data['display_id']}" if data.get("display_id") else None
        if data.get("update"):
            update_display(data["data"], metadata=data["metadata"], raw=True, display_id=display_id)
        else:
            display(data["data"], metadata=data["metadata"], raw=True, display_id=display_id)
