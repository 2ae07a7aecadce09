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

import ast
import atexit
import logging
import os
import queue
import sys
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from codemode._apitool import ApiTool
from codemode._calls import CallDesk
from codemode._runpath import Event, RunPath, _Ended, _handing_over
from codemode._runstate import DEFAULT_MAX_OUTPUT, _Ask, _asks_only
from codemode._surface import ToolSurface
from codemode._turns import Ticket, Turns
from codemode.accounting import Accountant
from codemode.cassette import CassetteSettings, open_hub, settings_of
from codemode.approval import ApprovalRule, Approver
from codemode.audit import AuditLog
from codemode.config import Config, load_config
from codemode.errors import CodemodeError
from codemode.hub import Hub, get_portal
from codemode.hub._portal import start_soon
from codemode.ids import new_id
from codemode.inputs import check_inputs
from codemode.policy import Policy
from codemode.sandbox import Limits, Sandbox
from codemode.metrics import Tokenizer
from codemode.schema import NameMap
from codemode.trace import RunReport
from codemode.trace._calllog import CallLog
from codemode.sandbox_options import SandboxOptions, parse_memory  # noqa: F401 - parse_memory: re-exported

TICK = 0.1

logger = logging.getLogger(__name__)


class Session(ToolSurface, CallDesk, RunPath):
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
        self._audit: AuditLog | None = None
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

    # -- life cycle ---------------------------------------------------------------------

    def start(self, code: str | None = None) -> None:
        """Connect every server (in parallel) and start the worker. Idempotent, thread-safe.

        `code`, the code about to run: the servers whose tool lists came from the cache and
        whose namespaces it names connect now, while the worker starts, not at its first call.
        """
        if self.started:
            return
        with self._life:
            if not self.started:
                self._first_code = code
                self._start()

    def _start(self) -> None:
        # Each step runs as a task on the loop and is only waited for here: an interrupt of
        # the wait (a kernel interrupt while servers connect) leaves the step going, and the
        # next `start` waits for the same step, so there is only ever one set of servers.
        self._audit = self._audit or AuditLog.of(self.config, face=self.face, session=self.id)
        portal = get_portal()
        if self._hub_task is None:
            self._turns = Turns()
            if self._owns_hub:
                self._hub_task = portal.start_task_soon(self._hub.serve, name="codemode-hub")
                # The servers the first code names connect while the worker starts; its
                # setup (`_asetup`) waits for them, so no call meets one still connecting.
                connect = getattr(self._hub, "connect_all", None)
                if self._first_code is not None and connect is not None:
                    self._ahead = _named_servers(self._first_code, self._server_names)
                    if self._ahead:
                        portal.start_task_soon(connect, self._ahead)
            # Before the portal's own exit handler (atexit runs handlers last-in, first-out):
            # servers get the SDK's orderly stdio shutdown, the worker its kill, even when
            # the start was interrupted.
            atexit.register(self.close)
        self._first_code = None
        if self._sandbox is None:
            # The worker starts while the servers connect; it gets its namespaces (`_asetup`)
            # once they have. The tokenizer loads meanwhile too, off this thread.
            self._sandbox = self._new_sandbox(self.sandbox_options)
            threading.Thread(target=self._warm_tokens, name="codemode-warm-tokens", daemon=True).start()
        if self._worker_start is None:
            self._worker_start = portal.start_task_soon(self._sandbox.start)
        try:
            portal.call(self._hub.wait_ready)
            self._worker_start.result()
        except KeyboardInterrupt:
            raise
        except BaseException:
            self._worker_start = None
            self._sandbox = None
            self._stop_hub()  # no server may outlive a session that did not start
            raise
        self._worker_start = None
        self.started = True

    def _warm_tokens(self) -> None:
        try:
            self.accountant.warm()
        except Exception:  # noqa: BLE001 - best effort: the first run's account loads it otherwise
            pass

    async def _asetup(self) -> dict[str, Any]:
        """The setup message of a fresh worker, once the servers have connected (or failed)."""
        await self._hub.wait_ready()
        if self._ahead:  # waits for the connects `_start` began (or makes them)
            ahead, self._ahead = self._ahead, []
            await self._hub.connect_all(ahead)
        self._generation = getattr(self._hub, "generation", 0)
        self._build_api()
        return self._setup_message()

    def connect(self) -> None:
        """Start the session and connect every server now, those whose tools came from the
        cache too (they otherwise connect on their first call)."""
        self.start()
        connect = getattr(self._hub, "connect_all", None)  # a replaying hub has nothing to connect
        if connect is not None:
            get_portal().call(connect)

    def _new_sandbox(self, options: SandboxOptions) -> Sandbox:
        self._worker_options = options
        return self._sandbox_with(options, self._asetup)

    def _sandbox_with(self, options: SandboxOptions,
                      setup: dict[str, Any] | Callable[[], Awaitable[dict[str, Any]]]) -> Sandbox:
        memory = options.memory_mb * 1024**2 if options.memory_mb else None
        disk = options.disk_mb * 1024**2 if options.disk_mb else None
        return Sandbox(setup, limits=Limits(memory=memory, disk=disk), workdir=options.workdir,
                       allow_subprocess=options.allow_subprocess, require=options.require,
                       allow_read=tuple(map(str, options.allow_read)))

    def close(self) -> None:
        """Stop the worker and disconnect every server. Runs still waiting for their turn
        end without running (their reports say so); a running one is stopped."""
        with self._life:
            if not self.started and self._hub_task is None:
                return  # never started, or a start that was interrupted is cleaned up too
            self.started = False
            atexit.unregister(self.close)
            portal = get_portal()
            if self._worker_start is not None:  # a worker start that was interrupted
                self._worker_start.cancel()
                self._worker_start = None
            portal.call(self._aclose_worker)
            self._sandbox = None
            self._stop_hub()
            if self._owns_hub:
                self._hub = open_hub(self.config, self.cassette)  # a later `start` connects afresh
            if self._audit is not None:
                self._audit.close()
                self._audit = None

    def _stop_hub(self) -> None:
        if self._hub_task is not None:
            get_portal().call(self._hub.aclose)
            self._hub_task.result(timeout=30)
            self._hub_task = None

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

    def reset(self) -> None:
        """Start a fresh worker: every variable of earlier cells is gone."""
        self.start()
        get_portal().call(self._areset)

    async def _aclose_worker(self) -> None:
        self._turns.close()  # on the loop: the queue's futures belong to it
        if self._sandbox is not None:
            await self._sandbox.aclose()

    async def _areset(self) -> None:
        ticket = Ticket()
        if not await self._turns.take(ticket):
            raise CodemodeError("the session closed before its worker could be reset")
        try:
            assert self._sandbox is not None
            await self._sandbox.start()
            self._state_lost = False
        finally:
            self._turns.give(ticket)

    def __enter__(self) -> Session:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what the session offers ---------------------------------------------------------

    @property
    def isolation(self) -> list[dict[str, Any]]:
        """The isolation layers of the worker, each `{"layer", "active", "detail"}`. Before the
        session starts, a worker with the session's options is started for the answer alone
        (and stopped): no server needs to run for it."""
        if self.started and self._sandbox is not None:
            return list(self._sandbox.isolation)
        return get_portal().call(self._aprobe_isolation)

    async def _aprobe_isolation(self) -> list[dict[str, Any]]:
        cwd = os.getcwd()
        probe = self._probe = self._sandbox_with(self.sandbox_options, {
            "servers": {}, "sys_path": [p for p in sys.path if p and os.path.isabs(p) and p != cwd]})
        try:
            await probe.start()
            return list(probe.isolation)
        finally:
            await probe.aclose()
            self._probe = None

    def abandon(self) -> None:
        """End the worker now, without the event loop: for a signal handler of a process that
        is about to exit (its servers end with it, through their tethers). Safe from any thread."""
        for sandbox in (self._sandbox, self._probe):
            if sandbox is not None:
                sandbox.kill_now()

    def names(self, text: str = "") -> list[str]:
        """The global names of the worker's namespace (the cells' variables and the servers),
        or with a dotted `text` (`orders.ap`) the attributes that complete it; [] while a
        cell runs."""
        if not self.started or self._sandbox is None:
            return []
        return get_portal().call(self._sandbox.names, text)

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
                        approval=self.approval_rule.with_flags(approve))
        asker = approver if approver is not None else self.approver
        events: queue.SimpleQueue[Any] = queue.SimpleQueue()
        portal = get_portal()
        options = sandbox if sandbox is not None else self.sandbox_options
        ticket = Ticket()
        log = CallLog(trace)  # opened here: a path that cannot be written fails the call, not the run
        # With nobody listening, events are not queued: each would wake this thread, which
        # then competes with the loop's thread for the GIL on every tool call.
        emit = events.put if on_event is not None else _asks_only(events.put)
        start_soon(_handing_over, events.put, self._arun, code, timeout, policy, options, emit, ticket, data, log)
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
                elif on_event is not None:
                    on_event(item)
            except KeyboardInterrupt:
                # The kernel's interrupt: passed on to this run (never another thread's),
                # which reports how it ended.
                portal.start_task_soon(self._ainterrupt, ticket)


def _named_servers(code: str, names: NameMap) -> list[str]:
    """The servers (MCP names) whose namespace `code` names, for a connect ahead of the run;
    a server the code reaches only another way still connects at its first call."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return []
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    return [names.to_mcp(name) for name in names.python_names() if name in used]
