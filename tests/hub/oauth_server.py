"""A local MCP server that is its own OAuth 2.1 authorization server, built on the SDK's
server-side auth support (`MCPServer(auth=..., auth_server_provider=...)`), for the sign-in
tests: dynamic registration, PKCE, refresh, on loopback only.

Its authorization endpoint signs the person in at once (it redirects straight back with a
code), so a `$BROWSER` that follows redirects completes a sign-in. `python oauth_server.py PORT`
serves streamable HTTP at http://127.0.0.1:PORT/mcp; it prints Uvicorn's "running on" line
when it listens. `python oauth_server.py PORT /as` puts the authorization server under `/as`
(its token endpoint `/as/token`, not the origin's `/token`). Tool `counts` says how many registrations, authorizations and refreshes it
served, and which scopes its caller's token has. Not a test module.
"""

from __future__ import annotations

import json
import secrets
import sys
import time

from mcp.server.auth.handlers.metadata import MetadataHandler
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    ProviderTokenVerifier,
    RefreshToken,
    construct_redirect_uri,
)
from mcp.server.auth.routes import build_metadata, create_auth_routes
from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions, RevocationOptions
from mcp.server.mcpserver import MCPServer
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from mcp_types import ToolAnnotations
from pydantic import AnyHttpUrl
from starlette.applications import Starlette
from starlette.routing import Mount, Route

TOKEN_SECONDS = 3600
SCOPES = ["tools.read"]


class SignsEveryoneIn:
    """An in-memory authorization server whose one user is always signed in and consents."""

    def __init__(self) -> None:
        self.clients: dict[str, OAuthClientInformationFull] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.access: dict[str, AccessToken] = {}
        self.refresh: dict[str, RefreshToken] = {}
        self.counts = {"registrations": 0, "authorizations": 0, "refreshes": 0}

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        return self.clients.get(client_id)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        self.counts["registrations"] += 1
        assert client_info.client_id is not None
        self.clients[client_info.client_id] = client_info

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        self.counts["authorizations"] += 1
        code = secrets.token_urlsafe(16)
        assert client.client_id is not None
        self.codes[code] = AuthorizationCode(
            code=code, scopes=params.scopes or SCOPES, expires_at=time.time() + 300, client_id=client.client_id,
            code_challenge=params.code_challenge, redirect_uri=params.redirect_uri,
            redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly, resource=params.resource)
        return construct_redirect_uri(str(params.redirect_uri), code=code, state=params.state)

    async def load_authorization_code(self, client: OAuthClientInformationFull, authorization_code: str
                                      ) -> AuthorizationCode | None:
        return self.codes.get(authorization_code)

    async def exchange_authorization_code(self, client: OAuthClientInformationFull,
                                          authorization_code: AuthorizationCode) -> OAuthToken:
        self.codes.pop(authorization_code.code, None)
        return self._issue(authorization_code.client_id, authorization_code.scopes, authorization_code.resource)

    async def load_refresh_token(self, client: OAuthClientInformationFull, refresh_token: str) -> RefreshToken | None:
        return self.refresh.get(refresh_token)

    async def exchange_refresh_token(self, client: OAuthClientInformationFull, refresh_token: RefreshToken,
                                     scopes: list[str]) -> OAuthToken:
        self.counts["refreshes"] += 1
        self.refresh.pop(refresh_token.token, None)
        return self._issue(refresh_token.client_id, scopes or refresh_token.scopes, refresh_token.resource)

    async def load_access_token(self, token: str) -> AccessToken | None:
        found = self.access.get(token)
        if found is None or (found.expires_at is not None and found.expires_at < time.time()):
            return None
        return found

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        self.access.pop(token.token, None)
        self.refresh.pop(token.token, None)

    def _issue(self, client_id: str, scopes: list[str], resource: str | None) -> OAuthToken:
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        expires = int(time.time()) + TOKEN_SECONDS
        self.access[access] = AccessToken(token=access, client_id=client_id, scopes=scopes, expires_at=expires,
                                          resource=resource)
        self.refresh[refresh] = RefreshToken(token=refresh, client_id=client_id, scopes=scopes, resource=resource)
        return OAuthToken(access_token=access, token_type="Bearer", expires_in=TOKEN_SECONDS, refresh_token=refresh,
                          scope=" ".join(scopes))


def build(port: int, provider: SignsEveryoneIn | None = None, issuer: str | None = None) -> MCPServer:
    """The MCP server; with `issuer`, only the resource server (tokens checked by `provider`,
    whose authorization server runs apart at `issuer`: see `with_authorization_server_at`)."""
    provider = provider or SignsEveryoneIn()
    base = f"http://127.0.0.1:{port}"
    registration = ClientRegistrationOptions(enabled=True, valid_scopes=SCOPES, default_scopes=SCOPES)
    settings = AuthSettings(issuer_url=issuer or base, resource_server_url=f"{base}/mcp", required_scopes=SCOPES,
                            validate_token_resource=False, client_registration_options=registration)
    server = (MCPServer("oauth-peer", token_verifier=ProviderTokenVerifier(provider), auth=settings) if issuer
              else MCPServer("oauth-peer", auth_server_provider=provider, auth=settings))

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def counts() -> str:
        """How many registrations, authorizations and refreshes were served; the caller's scopes."""
        token = get_access_token()
        return json.dumps({**provider.counts, "scopes": token.scopes if token else None})

    return server


def with_authorization_server_at(port: int, path: str) -> Starlette:
    """The MCP server and, beside it, its authorization server under `path` (issuer
    http://127.0.0.1:PORT/PATH): the token endpoint is `PATH/token`, not the origin's `/token`,
    and the metadata is at the RFC 8414 path-aware `/.well-known/oauth-authorization-server/PATH`."""
    provider = SignsEveryoneIn()
    issuer = f"http://127.0.0.1:{port}{path}"
    registration = ClientRegistrationOptions(enabled=True, valid_scopes=SCOPES, default_scopes=SCOPES)
    app = build(port, provider, issuer).streamable_http_app()
    metadata = build_metadata(AnyHttpUrl(issuer), None, registration, RevocationOptions())
    app.router.routes += [
        Mount(path, routes=create_auth_routes(provider, AnyHttpUrl(issuer), client_registration_options=registration)),
        Route(f"/.well-known/oauth-authorization-server{path}", MetadataHandler(metadata).handle, methods=["GET"]),
    ]
    return app


if __name__ == "__main__":
    # oauth_server.py PORT [AUTH_PATH]: with AUTH_PATH, the authorization server lives under it.
    port = int(sys.argv[1])
    if len(sys.argv) > 2:
        import uvicorn

        uvicorn.run(with_authorization_server_at(port, sys.argv[2]), host="127.0.0.1", port=port)
    else:
        build(port).run("streamable-http", host="127.0.0.1", port=port)
