"""A session ties the hub, the policy, the sandbox and the trace into `Session.run`.

Everything user-facing goes through it. The session is sync-facing: its async work runs on
the hub's background loop through the process-wide portal, and `run` pumps the run's live
events (output, tool calls, progress) on the caller's thread, so a notebook prints them as
they happen. Servers connect on first use (`start`), in parallel.

A session may be shared by threads: `run` from several threads queues, first come first
served (see `_turns`), each run gets its own report and events, and an interrupt or a
timeout touches only its own run.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from codemode.cassette import CassetteSettings, open_hub, settings_of
from codemode.config import Config, load_config
from codemode.engine._apitool import ApiTool
from codemode.engine._appcalls import AppCalls
from codemode.engine._calls import CallDesk
from codemode.engine._inputs import check_inputs
from codemode.engine._lifecycle import Lifecycle
from codemode.engine._runpath import Event, RunPath, _Ended, _handing_over
from codemode.engine._questions import answer_question
from codemode.engine._runstate import DEFAULT_MAX_OUTPUT, _Ask, _asks_only, _Question
from codemode.engine._surface import ToolSurface
from codemode.engine._turns import Ticket, Turns
from codemode.hub import Hub, get_portal
from codemode.hub._portal import start_soon
from codemode.sandbox import Sandbox
from codemode.sandbox._options import SandboxOptions
from codemode.schema import NameMap
from codemode.shared.ids import new_id
from codemode.tokens.accounting import Accountant
from codemode.tokens.metrics import Tokenizer
from codemode.trace import RunReport
from codemode.trace._calllog import CallLog
from codemode.trust.approval import ApprovalRule, Approver
from codemode.trust.audit import AuditLog
from codemode.trust.policy import Policy
from codemode.trust.redact import Redactor

TICK = 0.1

logger = logging.getLogger(__name__)


class Session(Lifecycle, ToolSurface, CallDesk, RunPath, AppCalls):
    """The MCP servers of a config, and a sandboxed worker that runs code against them.

    Args:
        config: the servers and settings; by default `load_config()` (the embedded demo
            server when no config file is found).
        disclosure: what the token account assumes a model read to write the code: "stubs"
            (every tool's stub) or "search" (only what the code found with `codemode.search`).
        tokenizer: counts the tokens; a real o200k BPE when installed, else an estimate.
        cassette: record the servers' tool lists and calls to a file, or replay them from it
            (no server started); by default as the config and `$CODEMODE_CASSETTE*` say.
        hub: the servers of another session to borrow (see `share`); this session then
            starts and stops only its own worker.
        face: who drives the session ("notebook", "kernel", "cli", "serve", "python"), as the
            audit trail names it; "serve" audits by default.
        approver: how to ask a person to approve a call the policy holds back; None: nobody
            can be asked, so such a call is refused (APPROVAL_REQUIRED).
    """

    def __init__(self, config: Config | None = None, *, disclosure: str = "stubs",
                 tokenizer: Tokenizer | None = None, cassette: CassetteSettings | None = None,
                 hub: Hub | None = None,
                 face: str = "python", approver: Approver | None = None) -> None:
        self.accountant = Accountant(disclosure, tokenizer)
        self.config = config if config is not None else load_config()
        self.id = new_id()
        self.face = face
        self.approver = approver
        self.approval_rule = ApprovalRule(self.config.approve, self.config.preapproved)
        self._approved: set[tuple[str, str]] = set()  # answered "for the session"
        self._app_pages: dict[tuple[str, str], Any] = {}  # apps' pages, read once (engine._apps)
        self._audit: AuditLog | None = None
        self._redactor = Redactor.of(self.config)  # a report's call records: they outlive the run
        self.cassette = cassette if cassette is not None else settings_of(self.config)
        self._owns_hub = hub is None
        # Or a recording/replaying stand-in; or another session's, borrowed.
        self._hub: Hub = hub if hub is not None else open_hub(self.config, self.cassette)
        self._sandbox: Sandbox | None = None
        self.sandbox_options = SandboxOptions.of(self.config)  # the session's defaults
        self._worker_options = self.sandbox_options  # what the running worker has
        self._hub_task: Any = None
        self._first_code: str | None = None  # the code of the run that starts the session
        self._ahead: list[str] = []  # the servers it names, connecting ahead of its run
        self._worker_start: Any = None
        # Every configured server has its Python name from the start, connected or not: a
        # failed server is still a namespace, and a wrong name is refused before any starts.
        self._server_names = NameMap.build(list(self._hub.servers))
        self._probe: Sandbox | None = None
        self._api: dict[tuple[str, str], ApiTool] = {}
        self._generation = 0  # the hub's tool-list generation the API was built on
        self._state_lost = False
        self._turns = Turns()
        self._life = threading.Lock()  # start and close, from any thread
        self.started = False

    def share(self, wrap: Callable[[Hub], Hub] | None = None) -> Session:
        """A new session on this session's servers (the same hub, so the same connections),
        with a worker of its own: its own variables, files and calls. Closing it stops only
        its worker; this session must stay open while it is used (`codemode serve` gives
        each client one). `wrap` puts a stand-in around the shared hub (`codemode serve
        --record` taps each client's calls into its transcript's cassette)."""
        self.start()
        other = Session(self.config, disclosure=self.accountant.disclosure, tokenizer=self.accountant.tokenizer,
                        cassette=self.cassette, hub=wrap(self._hub) if wrap else self._hub, face=self.face)
        other.sandbox_options = self.sandbox_options
        return other

    def __enter__(self) -> Session:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- running code ---------------------------------------------------------------------

    def run(
        self,
        code: str,
        *,
        timeout: float | None = None,
        servers: Iterable[str] | None = None,
        max_tool_calls: int | None = None,
        max_output: int | None = None,
        tools: Iterable[str] | None = None,
        sandbox: SandboxOptions | None = None,
        on_event: Callable[[Event], None] | None = None,
        inputs: Mapping[str, Any] | None = None,
        cancel: threading.Event | None = None,
        approve: Iterable[str] | None = None,
        approver: Approver | None = None,
        trace: str | Path | None = None,
        elicit: str | None = None,
        label: str | None = None,
    ) -> RunReport:
        """Run code in the sandbox and return what it did.

        Args:
            code: Python source; its last expression is the result, as in IPython.
            timeout: seconds the code may run (the config's `cell_timeout` by default).
            servers: the servers it may call (config or Python names); all by default.
            max_tool_calls: the most tool calls the run may make; no cap by default.
            max_output: characters of stdout (and of stderr) kept; past it the head and the
                tail are kept and the middle is dropped and counted (OUTPUT_TRUNCATED).
            tools: allow-list patterns (`demo.get_*`, shell wildcards) of the tools it may call.
            sandbox: the worker's options for this run (`session.sandbox_options` by default);
                when they differ from the running worker's, a fresh worker runs the code.
            on_event: called on this thread with live events as they happen.
            inputs: variables bound in the worker before the code runs (JSON data: a
                DataFrame goes in as `df.to_dict("records")`).
            cancel: set it (from any thread) to interrupt this run, as Ctrl-C does: a run
                still waiting for its turn never starts, a running one gets KeyboardInterrupt.
            approve: `server.tool` patterns pre-approved for this run (`--approve`).
            approver: who is asked when a call needs a yes (`session.approver` by default);
                it is called on this thread.
            trace: a file to write every tool call to, whole, one JSON object a line, as it
                ends. The report keeps the first calls and every failure whole and sums up
                the rest per tool (see `codemode.trace._calllog`); the file keeps them all.
            elicit: what a server's question during a call gets: "ask" (the approver asks a
                person on this thread), "decline" or "defaults"; the config's `elicit` by default.
            label: what tracebacks call the code (`In[9]`: `Cell In[9], line 2`, as IPython
                names a notebook cell); by default the worker's own `<cell N>`.

        Returns:
            The run's report. Failures of the code are in the report, not raised.

        Raises:
            InputError: an input is not a variable name or not JSON data.
        """
        self.start(code if servers is None else None)
        data = check_inputs(inputs, frozenset(key for key, _ in self._api)) if inputs else {}
        allowed = frozenset(self._resolve_server(s) for s in servers) if servers is not None else None
        patterns = tuple(tools) if tools is not None else self.config.tools
        policy = Policy(servers=allowed, tools=patterns,
                        max_tool_calls=max_tool_calls if max_tool_calls is not None else self.config.max_tool_calls,
                        max_output=max_output or self.config.max_output or DEFAULT_MAX_OUTPUT,
                        approval=self.approval_rule.with_flags(approve), elicit=elicit)
        asker = approver if approver is not None else self.approver
        events: queue.SimpleQueue[Any] = queue.SimpleQueue()
        portal = get_portal()
        options = sandbox if sandbox is not None else self.sandbox_options
        ticket = Ticket()
        log = CallLog(trace)  # opened here: a path that cannot be written fails the call, not the run
        # With nobody listening, events are not queued: each would wake this thread, which
        # then competes with the loop's thread for the GIL on every tool call.
        emit = events.put if on_event is not None else _asks_only(events.put)
        start_soon(_handing_over, events.put, self._arun, code, timeout, policy, options, emit, ticket, data, log,
                   label)
        cancelled = False
        while True:
            try:
                if cancel is not None and cancel.is_set() and not cancelled:
                    cancelled = True
                    portal.start_task_soon(self._ainterrupt, ticket)
                try:
                    item = events.get(timeout=TICK)
                except queue.Empty:
                    item = ("tick", None)
                if isinstance(item, _Ended):
                    return item.outcome()
                if isinstance(item, _Ask):
                    self._ask(item, asker, on_event)
                elif isinstance(item, _Question):
                    answer_question(item, asker, self.config.approval_timeout)
                elif on_event is not None:
                    on_event(item)
            except KeyboardInterrupt:
                # The kernel's interrupt: passed on to this run (never another thread's),
                # which reports how it ended.
                portal.start_task_soon(self._ainterrupt, ticket)
