"""`codemode auth login SERVER`, `codemode auth status`, `codemode auth logout SERVER`: signing
in to HTTP servers ahead of a run, seeing what is stored, and forgetting it (docs/auth.md).

Login connects the one server through the hub, as a run would, with a browser sign-in even
when its entry has no `oauth` object; the tokens land in the token folder and later runs use
(and refresh) them. Nothing here prints a token or a secret.
"""

from __future__ import annotations

import argparse
import sys
import time

from codemode.config import Config, HttpServer
from codemode.errors import CodemodeError

# `login` waits for the person in the browser; the hub's own sign-in bound applies inside.
EXIT_WAIT = 30.0


def auth_command(config: Config, args: argparse.Namespace) -> int:
    if args.action == "status":
        return _status(config)
    if not args.name:
        raise CodemodeError(f"auth {args.action} needs a SERVER: one of {', '.join(_http_servers(config)) or '(none)'}")
    server = _http_server(config, args.name)
    if args.action == "logout":
        return _logout(args.name, server)
    return _login(config, args.name, server)


def _http_servers(config: Config) -> list[str]:
    return [name for name, server in config.servers.items() if isinstance(server, HttpServer)]


def _http_server(config: Config, name: str) -> HttpServer:
    server = config.servers.get(name)
    if server is None:
        raise CodemodeError(f"no server {name!r} in the config (servers that sign in: "
                            f"{', '.join(_http_servers(config)) or 'none'})")
    if not isinstance(server, HttpServer):
        raise CodemodeError(f"server {name!r} is started by a command (stdio); only servers with a 'url' sign in")
    return server


def _login(config: Config, name: str, server: HttpServer) -> int:
    from codemode.hub import Hub, get_portal
    from codemode.hub._tokenstore import TokenFile

    TokenFile(server.url).forget_tokens()  # a fresh sign-in; a stored registration is kept
    only = config.model_copy(update={"servers": {name: server}})
    hub = Hub(only, cached=False, sign_in=[name])
    portal = get_portal()
    task, _ = portal.start_task(hub.serve, name="codemode-auth-login")
    try:
        state = hub.servers[name]
        if state.status != "connected":
            print(f"codemode: could not sign in to {name!r}: {state.error}", file=sys.stderr)
            return 1
        print(f"Signed in to {name} ({server.url}): {len(state.tools)} tools.")
        return 0
    finally:
        portal.call(hub.aclose)
        task.result(timeout=EXIT_WAIT)


def _logout(name: str, server: HttpServer) -> int:
    from codemode.hub._tokenstore import TokenFile

    if TokenFile(server.url).remove():
        print(f"Signed out of {name}: its tokens and registration are removed.")
    else:
        print(f"{name}: no stored sign-in.")
    return 0


def _status(config: Config) -> int:
    from codemode.hub._tokenstore import TokenFile, oauth_dir, stored_sign_ins

    rows: list[tuple[str, ...]] = [("SERVER", "URL", "SIGNED IN", "EXPIRES", "SCOPES")]
    seen = set()
    for name in _http_servers(config):
        server = config.servers[name]
        assert isinstance(server, HttpServer)
        seen.add(server.url)
        rows.append(_row(name, TokenFile(server.url).summary() if TokenFile(server.url).exists() else None, server))
    for stored in stored_sign_ins():
        if stored.url not in seen:
            rows.append(_row("(not in this config)", stored, None, url=stored.url))
    if len(rows) == 1:
        print(f"No HTTP servers in the config and no stored sign-ins (folder: {oauth_dir()}).")
        return 0
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    print(f"\nTokens: {oauth_dir()}")
    return 0


def _row(name: str, stored: object, server: HttpServer | None, url: str | None = None) -> tuple[str, ...]:
    from codemode.hub._tokenstore import StoredSignIn

    url = url or (server.url if server else "")
    how = "" if server is None or server.oauth is None else f" ({server.oauth.grant})"
    if not isinstance(stored, StoredSignIn) or not stored.has_tokens:
        return (name, url, "no" + how, "-", "-")
    expires = "-" if stored.expires_at is None else _when(stored.expires_at, stored.refreshable)
    return (name, url, "yes" + how, expires, stored.scope or "-")


def _when(at: float, refreshable: bool) -> str:
    left = at - time.time()
    refresh = ", refreshable" if refreshable else ""
    if left <= 0:
        return f"expired{refresh}"
    minutes = int(left // 60)
    return (f"in {minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"in {minutes} min") + refresh
