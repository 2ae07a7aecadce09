"""`GET /health` of `codemode serve --transport http`: what a load balancer and a person read.

The HTTP status is the balancer's signal: 503 when no upstream server is usable (every one
failed, or the server could not start its own session: no `execute` could work), 200 otherwise,
also while some are failed (`degraded`) or still connecting (`starting`). The body says which
servers are usable and which are not, each server's state, the warm pool and the sessions;
without the token (when one is set) only the status word, which names no server.
"""

from __future__ import annotations

from typing import Any

#: Server states whose tools a run can call now or once connected.
USABLE = frozenset({"connected", "idle", "connecting"})


def health_report(sessions: Any) -> tuple[int, dict[str, Any]]:
    """The HTTP status and the report: each server's state as it is now (`idle`: its tools known
    from the cache, not connected yet; `connecting`; `connected`; `failed`; `crashed`), and the
    status word: `unavailable` when no server is usable, `degraded` once one has failed,
    `starting` while one is not yet connected, else `ok`."""
    servers = {
        name: {"status": state.status, "transport": state.transport, "tools": len(state.tools),
               **({"error": (state.error or "").splitlines()[0][:300]} if state.error else {})}
        for name, state in sessions.root.servers.items()
    }
    live = {name: entry for name, entry in servers.items() if entry["status"] != "disabled"}
    usable = sorted(name for name, entry in live.items() if entry["status"] in USABLE)
    unusable = sorted(name for name in live if name not in usable)
    if sessions.startup.error is not None or not usable:
        status = "unavailable"
    elif unusable:
        status = "degraded"
    elif all(entry["status"] == "connected" for entry in live.values()):
        status = "ok"
    else:
        status = "starting"
    report: dict[str, Any] = {"status": status, "usable": usable, "unusable": unusable, "servers": servers,
                              **sessions.health()}
    if sessions.startup.error is not None:
        report["error"] = sessions.startup.error
    return (503 if status == "unavailable" else 200), report
