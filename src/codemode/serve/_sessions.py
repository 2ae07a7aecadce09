"""Client sessions of `codemode serve`: one worker each, over one shared hub.

A client session is named by a handle the server mints (`_handles`) and returns in every
`execute` result; `execute(code, session=HANDLE)` continues it, in either protocol era. A
2026-07-28 request without a handle starts a new session; a handshake-era connection (stdio's
one, or one `Mcp-Session-Id` over HTTP) has a session of its own that its executes without a
handle continue, and that ends with it. Its worker (a `Session` sharing the root's hub, taken from the warm pool on its first
`execute`) keeps its variables and files across `execute` calls, which run one after
another (a lock per client); different clients run concurrently, and so do their tool calls
(the hub serves them all on its loop).

Invariants:
- A session idle for `codemode.sessionIdle` seconds loses its worker (the process is
  stopped); its next `execute` gets a fresh one and says the state was lost.
- A session whose connection ends (client DELETE, HTTP idle expiry, stdio EOF) stops its
  worker. A session of handles only, idle past `FORGET_SECONDS` (and past twice
  `codemode.sessionIdle`), is forgotten: its handle then answers SESSION_LOST. Nothing here
  outlives `Sessions.aclose`.
- A session answers only the token that opened it (its `owner`); to any other it does not exist.
- A cancelled `execute` (the client's `notifications/cancelled`, the server shutting down)
  interrupts its run as Ctrl-C does, and returns once the worker has stopped the code:
  the session's next `execute` never waits for code nobody wants.
- At most `codemode.maxSessions` sessions hold a worker at once; the check and the
  reservation happen with no await between them (one event loop), so it cannot overshoot.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from codemode.serve._handles import DEFAULT_ROUTE, digest, mint
from codemode.serve._limits import Refused, RunLimits
from codemode.serve._pool import WorkerPool
from codemode.serve._rates import Rates
from codemode.serve._rounds import Rounds
from codemode.serve._startup import Startup
from codemode.serve._values import ValueStore

if TYPE_CHECKING:
    from codemode.cassette import TapHub
    from codemode.engine import Event, Session
    from codemode.serve._transcript import Transcript
    from codemode.trace import RunReport
    from codemode.trust.approval import Approver

logger = logging.getLogger(__name__)

# How often idle sessions are looked for, at most: a reclaim is late by up to this much.
SWEEP_SECONDS = 30.0
# How often a cancelled `execute` looks whether its interrupted run has ended.
_ENDED_POLL = 0.01
# Worker threads that may wait on runs at once: every open session can be running.
RUN_THREADS = 1000
# Seconds a handle-only session is remembered once idle (its worker is reclaimed long before):
# a client may come back to a handle after a break; a record without a worker is a few hundred bytes.
FORGET_SECONDS = 24 * 3600.0


@dataclass
class ClientSession:
    """One client's worker and counters. `key` is its handle; `label` names it in logs and
    transcripts (never the handle); `owner` is a digest of the token that opened it."""

    key: str
    label: str = ""
    owner: str | None = None
    bound: bool = False  # a handshake-era connection's own session: it ends with the connection
    peer: str | None = None  # the client (name/version) of its latest execute, for the audit
    tokens_read: int = 0  # what its model read of this server (`_account`)
    tokens_classic: int = 0  # what classic tool calling would have cost for the same work
    tokens_listed: bool = False
    started: float = field(default_factory=time.time)
    worker: Session | None = None
    executes: int = 0
    tool_calls: int = 0
    last_used: float = field(default_factory=time.monotonic)
    busy: bool = False
    reclaimed: bool = False
    closed: bool = False
    lock: anyio.Lock = field(default_factory=anyio.Lock)
    transcript: Transcript | None = None


class Sessions:
    """Every open client session of one server process, and their pool of warm workers."""

    def __init__(self, root: Session, *, record: Path | None = None) -> None:
        self.root = root
        self.config = root.config
        self.record = record
        # With transcripts, each worker's calls go through a tap of its own on the shared
        # hub, which its client's cassette is attached to (see `_acquire`).
        self._taps: weakref.WeakKeyDictionary[Session, TapHub] = weakref.WeakKeyDictionary()
        self._taps_lock = threading.Lock()
        self.pool = WorkerPool(root, root.config.pool_size, make=self._tapped_worker if record is not None else None)
        self.startup = Startup(root, then=self.pool.open)  # the pool fills once the servers are connected
        self.open_sessions: dict[str, ClientSession] = {}
        # Sessions under a fresh handle that no code has run in yet (`open(enlist=False)`): held
        # weakly, so one whose execute was refused is gone with its request, and concurrent
        # first executes of one handle still find the same session.
        self.starting: weakref.WeakValueDictionary[str, ClientSession] = weakref.WeakValueDictionary()
        self.values = ValueStore()  # big values of results, read back as resources
        self.rounds = Rounds()  # 2026-era executes that may ask (input_required)
        self.rates = Rates(root.config)  # codemode.rateLimit, per token
        self.listing: list[dict[str, Any]] | None = None  # the tools/list entries, once made
        self.with_worker = 0
        self._ids = itertools.count(1)
        self._limiter = anyio.CapacityLimiter(RUN_THREADS)

    def open(self, route: str = DEFAULT_ROUTE, owner: str | None = None, *, bound: bool = False,
             handle: str | None = None, enlist: bool = True) -> ClientSession:
        """A new client session, answering `owner` only, under `handle` (a fresh handle, see
        `_handles`) or a new one on `route`; among the open sessions at once, or (`enlist`
        false, for a session under a fresh handle) only once code runs in it (`run`), so an
        execute refused before it ran leaves nothing behind."""
        client = ClientSession(handle or mint(route), owner=owner, bound=bound)
        if enlist:
            self.enlist(client)
        else:
            self.starting[client.key] = client
        return client

    def enlist(self, client: ClientSession) -> None:
        """Count `client` among the open sessions (given its label and transcript), once."""
        if client.closed or client.key in self.open_sessions:
            return
        client.label = f"session-{next(self._ids)}"
        if self.record is not None:
            from codemode.serve._transcript import Transcript

            client.transcript = Transcript(self.record, client.label, self.config, servers=lambda: self.root.servers)
        self.open_sessions[client.key] = client
        self.starting.pop(client.key, None)

    def find(self, handle: str, owner: str | None) -> ClientSession | None:
        """The open (or starting) session of `handle`, if `owner` opened it."""
        client = self.open_sessions.get(handle) or self.starting.get(handle)
        if client is None or client.closed or client.owner != owner:
            return None
        return client

    async def close(self, client: ClientSession) -> None:
        """The connection ended: stop its worker (after a run in progress ends)."""
        client.closed = True
        self.open_sessions.pop(client.key, None)
        self.values.drop(client.key)
        async with client.lock:
            await self._release(client)

    async def run(self, client: ClientSession, code: str, plan: Callable[[ClientSession], RunLimits],
                  inputs: dict[str, Any] | None, on_event: Callable[[Event], None] | None,
                  approver: Approver | None = None) -> tuple[RunReport, str]:
        """Run code in the client's worker, one run at a time; the report and a notice
        (non-empty when the session's earlier state is gone). `plan` gives the run's limits
        from the session's counters, or raises `Refused`: it is called under the session's
        lock and the execute is counted before the run starts, so concurrent executes of one
        session cannot pass `maxExecutes` or `maxSessionToolCalls`. `approver` asks the
        client about calls the approval policy holds back. A session not yet among the open
        ones is counted in now."""
        self.enlist(client)
        async with client.lock:
            limits = plan(client)
            client.busy = True
            try:
                notice = ""
                if client.worker is None:
                    if client.reclaimed:
                        notice = (f"this session was idle for over {self.config.session_idle:g} s and its worker "
                                  "was reclaimed: earlier variables and files are gone")
                        client.reclaimed = False
                    await self._acquire(client)
                assert client.worker is not None
                client.worker.audit_context(handle=digest(client.key), client=client.peer)
                client.executes += 1  # reserved before the run: one that fails or is cancelled counts too
                report = await self._interruptible(client.worker, code, limits, inputs, on_event, approver)
                # Calls the run's cap refused never left the host: they do not count.
                client.tool_calls += sum(1 for c in report.calls if c.error_code != "MAX_TOOL_CALLS")
                return report, notice
            finally:
                client.busy = False
                client.last_used = time.monotonic()

    async def _interruptible(self, worker: Session, code: str, limits: RunLimits, inputs: dict[str, Any] | None,
                             on_event: Callable[[Event], None] | None, approver: Approver | None) -> RunReport:
        """`worker.run` on a thread; cancelled, it interrupts the run and waits for its end."""
        cancel, ended = threading.Event(), threading.Event()

        def work() -> RunReport:
            try:
                return _run(worker, code, limits, inputs, on_event, approver, cancel)
            finally:
                ended.set()

        try:
            return await anyio.to_thread.run_sync(work, abandon_on_cancel=True, limiter=self._limiter)
        except anyio.get_cancelled_exc_class():
            cancel.set()
            with anyio.CancelScope(shield=True):  # the worker is the session's: wait until it is free
                while not ended.is_set():
                    await anyio.sleep(_ENDED_POLL)
            raise

    async def _acquire(self, client: ClientSession) -> None:
        cap = self.config.max_sessions
        if cap is not None and self.with_worker >= cap:
            raise Refused("MAX_SESSIONS", f"{self.with_worker} sessions hold a worker, the most this server runs "
                                          f"(codemode.maxSessions = {cap}); try again once one ends or idles out")
        self.with_worker += 1  # reserved before the await: concurrent sessions cannot overshoot
        try:
            client.worker = await anyio.to_thread.run_sync(self.pool.take, limiter=self._limiter)
        except BaseException:
            self.with_worker -= 1
            raise
        if client.transcript is not None:
            with self._taps_lock:
                tap = self._taps.get(client.worker)
            if tap is not None:
                tap.cassette = client.transcript.cassette

    def _tapped_worker(self) -> Session:
        """A worker whose calls can be written to its client's cassette (called off the loop)."""
        from codemode.cassette import TapHub

        taps: list[TapHub] = []

        def wrap(hub: Any) -> Any:
            taps.append(TapHub(hub))
            return taps[-1]

        worker = self.root.share(wrap)
        with self._taps_lock:
            self._taps[worker] = taps[0]
        return worker

    async def _release(self, client: ClientSession) -> None:
        worker, client.worker = client.worker, None
        if worker is not None:
            self.with_worker -= 1
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(worker.close, limiter=self._limiter)

    async def sweep(self) -> None:
        """Reclaim the workers of sessions idle past `codemode.sessionIdle`, until cancelled."""
        idle = self.config.session_idle
        while True:
            await anyio.sleep(min(SWEEP_SECONDS, max(idle / 4, 0.05)))
            now = time.monotonic()
            forget = max(FORGET_SECONDS, 2 * idle)
            for client in list(self.open_sessions.values()):
                if client.worker is not None and not client.busy and now - client.last_used > idle \
                        and not client.lock.locked():
                    async with client.lock:
                        await self._release(client)
                        client.reclaimed = True
                        logger.info("codemode serve: reclaimed the worker of idle session %s", client.label)
                elif client.worker is None and not client.bound and not client.busy and now - client.last_used > forget:
                    self.open_sessions.pop(client.key, None)
                    self.values.drop(client.key)
                    logger.info("codemode serve: forgot idle session %s", client.label)

    async def aclose(self) -> None:
        """Stop every session's worker and the pool."""
        for client in list(self.open_sessions.values()):
            await self._release(client)
        self.open_sessions.clear()
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(self.pool.close)

    def health(self) -> dict[str, Any]:
        """The pool and the sessions, for `GET /health` (no code, no variables, no secrets)."""
        return {
            "pool": {"size": self.pool.size, "warm": self.pool.warm, "starting": self.pool.starting,
                     "workersStarted": self.pool.started},
            "sessions": {
                "open": len(self.open_sessions),
                "withWorker": self.with_worker,
                "max": self.config.max_sessions,
                "idleSeconds": self.config.session_idle,
            },
        }


def _run(worker: Session, code: str, limits: RunLimits, inputs: dict[str, Any] | None,
         on_event: Callable[[Event], None] | None, approver: Approver | None = None,
         cancel: threading.Event | None = None) -> RunReport:
    options: dict[str, Any] = {"inputs": inputs} if inputs is not None else {}
    return worker.run(code, timeout=limits.timeout, max_tool_calls=limits.max_tool_calls, servers=limits.servers,
                      tools=limits.tools, on_event=on_event, approver=approver, cancel=cancel, **options)
