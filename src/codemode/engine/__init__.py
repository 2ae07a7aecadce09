"""The engine: `Session` and a run's way from the code's text to its `RunReport`.

Every face goes through it, so a feature lives here or below. A `Session` is assembled from
parts, one job a module: `_lifecycle` (start, close, reset: the hub's task and the worker),
`_surface` (the tools as the code sees them: namespaces, stubs, search), `_runpath` (a run:
its turn at the worker, its cell, its report), `_calls` (a tool call from the worker: policy,
approval, the hub, the trace), `_runstate` and `_turns` (a run's state, and one run at a time),
`_apitool` (one tool as the API offers it), `_inputs` (variables handed to a run).

May import every layer below the faces: `errors`, `shared`, `config`, `schema`, `trust`, `hub`,
`cassette`, `sandbox`, `outputs`, `tokens`, `trace`. Never a face.
"""

from __future__ import annotations

from codemode.engine._apitool import ApiTool
from codemode.engine._runpath import Event
from codemode.engine._session import Session

__all__ = ["ApiTool", "Event", "Session"]
