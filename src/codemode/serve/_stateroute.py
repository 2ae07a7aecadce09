"""The route of a 2026-07-28 `input_required` round, where a load balancer can read it.

A 2026 execute that asks a question answers `input_required` with a `requestState`, and the
client retries the same `tools/call` with it. The run waits in the process that asked, so the
retry must reach that process. An execute that carries a session handle is routed by it
(`Mcp-Param-Session`, see `_handles`); the first execute of a session carries none, and its
retry would land on any backend. So the sealed `requestState` goes out as `ROUTE~SEALED`, ROUTE
being this backend's name as the proxy gave it (`X-Codemode-Backend`, as for handles), and the
proxy routes a retry by the part of `params.requestState` before the `~` (deploy/haproxy.cfg
reads it with `json_query` from the buffered body). The route is outside the seal and names
nothing secret; the seal (the SDK's `RequestStateBoundary`, inside this one) still checks all of
the state, so a changed route can only misroute a retry.

A retry whose state this process cannot unseal (minted by a process that has stopped, or by
another behind a proxy that routes no rounds) gets an `isError` result with code RUN_LOST, as a
retry for a run that has ended does, not the boundary's protocol error: the agent can only run
the code again either way.

Placed first in `Server.middleware` (outermost): it strips the route before the boundary
unseals, and adds it after the boundary has sealed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import mcp_types as types
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types.methods import is_input_required

from codemode.serve._context import Asker
from codemode.serve._tools import error_result

#: Between the route and the sealed state (never in a route, nor in the SDK's base64url seal).
SEPARATOR = "~"


class StateRoute:
    """Server middleware: `requestState` carries this backend's route outside the seal."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/call":
            return await call_next(ctx)
        state = ctx.params.get("requestState") if ctx.params is not None else None
        if isinstance(state, str) and SEPARATOR in state:
            assert ctx.params is not None
            ctx = replace(ctx, params={**ctx.params, "requestState": state.partition(SEPARATOR)[2]})
        try:
            result = await call_next(ctx)
        except MCPError as exc:
            if not (isinstance(exc.error.data, Mapping) and exc.error.data.get("reason") == "invalid_request_state"):
                raise
            return run_lost()
        return _routed(result, Asker.of(ctx).route)


def run_lost() -> types.CallToolResult:
    """The answer to a retry for a run this process does not hold."""
    return error_result("RUN_LOST", "the run this answer was for is gone (it ended, or its server process stopped); "
                                    "run the code again")


def _routed(result: HandlerResult, route: str) -> HandlerResult:
    if not is_input_required(result):
        return result
    if isinstance(result, Mapping):
        state = result.get("requestState")
        return {**result, "requestState": f"{route}{SEPARATOR}{state}"} if isinstance(state, str) else result
    state = getattr(result, "request_state", None)
    if not isinstance(state, str):
        return result
    return result.model_copy(update={"request_state": f"{route}{SEPARATOR}{state}"})
