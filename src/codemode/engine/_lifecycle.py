"""A session's life cycle, for `Session` (a part of it, as `_runpath.RunPath` is): starting
the servers and the worker, closing them, a fresh worker on reset, and what can be asked of
the worker outside a run (its isolation layers, the names in its namespace).

Every step runs as a task on the hub's loop and is only waited for on the caller's thread: an
interrupt of the wait (a kernel interrupt while servers connect) leaves the step going, and
the next `start` waits for the same step, so there is only ever one set of servers and one
worker. Whoever starts a process here ends it: `close` (or the exit handler it registers).
"""

from __future__ import annotations

import ast
import atexit
import os
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from codemode.cassette import CassetteSettings, open_hub
from codemode.engine._turns import Ticket, Turns
from codemode.errors import CodemodeError
from codemode.hub import Hub, get_portal
from codemode.sandbox import Limits, Sandbox
from codemode.sandbox._options import SandboxOptions
from codemode.schema import NameMap
from codemode.trust.audit import AuditLog

if TYPE_CHECKING:
    from codemode.config import Config
    from codemode.tokens.accounting import Accountant


class Lifecycle:
    """Starts and stops a session's servers and worker (a part of `Session`)."""

    config: Config
    accountant: Accountant
    cassette: CassetteSettings
    face: str
    id: str
    started: bool
    sandbox_options: SandboxOptions
    _audit: AuditLog | None
    _owns_hub: bool
    _hub: Hub
    _hub_task: Any
    _sandbox: Sandbox | None
    _probe: Sandbox | None
    _worker_options: SandboxOptions
    _worker_start: Any
    _first_code: str | None
    _ahead: list[str]
    _server_names: NameMap
    _generation: int
    _state_lost: bool
    _turns: Turns
    _life: threading.Lock
    _build_api: Callable[[], None]
    _setup_message: Callable[[], dict[str, Any]]

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

    def audit(self, event: str, **facts: Any) -> None:
        """Write one event of this session to its audit trail (when auditing is on): a face's
        own act on the session, such as `codemode serve`'s `search` tool."""
        audit = self._audit or AuditLog.of(self.config, face=self.face, session=self.id)
        self._audit = audit
        if audit is not None:
            audit.event(event, **facts)

    def audit_context(self, **facts: Any) -> None:
        """Facts every later audit line of this session carries (who drives it now)."""
        self._audit = self._audit or AuditLog.of(self.config, face=self.face, session=self.id)
        if self._audit is not None:
            self._audit.context = {key: value for key, value in facts.items() if value is not None}

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


def _named_servers(code: str, names: NameMap) -> list[str]:
    """The servers (MCP names) whose namespace `code` names, for a connect ahead of the run;
    a server the code reaches only another way still connects at its first call."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return []
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    return [names.to_mcp(name) for name in names.python_names() if name in used]
