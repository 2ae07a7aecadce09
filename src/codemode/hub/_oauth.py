"""Signing in to an HTTP server: the SDK's OAuth client providers, chosen by the entry's `oauth`.

The protocol is the SDK's (`mcp.client.auth`): discovery from the 401's `WWW-Authenticate`
(protected resource metadata, then authorization server or OpenID metadata), PKCE, client ID
metadata documents or dynamic registration, refresh, step-up on 403 `insufficient_scope`; and
its extensions for the client credentials grant (secret or private_key_jwt) and SEP-990. What
is ours: the token file (`_tokenstore`), the browser and loopback redirect (`_signin`), and
three small choices the SDK leaves to its caller, each marked below.

Which provider a server gets:
- an `oauth` entry: the one its grant names;
- no `oauth` entry but a stored sign-in (`codemode auth login`): the browser provider, so
  tokens are refreshed and a lapsed sign-in asks again;
- neither: none; a 401 then becomes `SignInRequiredError`, naming `codemode auth login`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from codemode._version import __version__
from codemode.config import HttpServer, OAuthSettings
from codemode.hub._signin import Loopback
from codemode.hub._tokenstore import TokenFile

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    import httpx2
    from mcp.client.auth import OAuthClientProvider

# The SDK logs a failed sign-in with its traceback ("OAuth flow error"); the hub reports the
# failure itself, in one line, as the server's connect problem.
_SDK_AUTH_LOG = logging.getLogger("mcp.client.auth")
_SDK_AUTH_LOG.addHandler(logging.NullHandler())
_SDK_AUTH_LOG.propagate = False

# RFC 8693 token exchange at the enterprise IdP (SEP-990 leg 1), which the SDK leaves to its caller.
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
ID_JAG_TYPE = "urn:ietf:params:oauth:token-type:id-jag"
IDP_TIMEOUT = 30.0


def wants_oauth(config: HttpServer) -> bool:
    """Whether the server gets a provider: an `oauth` entry, or a stored sign-in."""
    if config.oauth is not None:
        return True
    if any(key.lower() == "authorization" for key in config.headers):
        return False  # a static header is how this server is reached
    return TokenFile(config.url).exists()


def provider_for(name: str, config: HttpServer, *, force: bool = False,
                 on_start: Callable[[], None] | None = None) -> httpx2.Auth | None:
    """The httpx2 auth for one server, or None when it has no way to sign in.

    `force`: a browser sign-in even with nothing configured (`codemode auth login`);
    `on_start`: called when a person is asked to sign in."""
    if not (force or wants_oauth(config)):
        return None
    oauth = config.oauth or OAuthSettings()
    if oauth.grant == "client_credentials":
        return _machine(config, oauth)
    if oauth.grant == "identity_assertion":
        return _cross_app(config, oauth)
    return _browser(name, config, oauth, on_start)


def _browser(name: str, config: HttpServer, oauth: OAuthSettings, on_start: Callable[[], None] | None) -> httpx2.Auth:
    from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata

    fixed = None
    if oauth.client_id is not None and not oauth.metadata_document:
        fixed = OAuthClientInformationFull(client_id=oauth.client_id, client_secret=oauth.client_secret,
                                           token_endpoint_auth_method=oauth.token_endpoint_auth_method,
                                           redirect_uris=None)
    store = TokenFile(config.url, fixed)
    loopback = Loopback(name, _registered_port(store), on_start)
    metadata = OAuthClientMetadata(
        client_name="codemode", software_id="codemode", software_version=__version__,
        redirect_uris=[loopback.redirect_uri],  # type: ignore[list-item]  # pydantic takes the str
        # `refresh_token` among the grants, so the server issues one and a lapsed token is
        # refreshed instead of asking the person again.
        grant_types=["authorization_code", "refresh_token"], response_types=["code"],
        token_endpoint_auth_method="none", scope=oauth.scope)
    return _browser_provider_class()(
        config.url, metadata, store, redirect_handler=loopback.open, callback_handler=loopback.wait,
        client_metadata_url=oauth.client_id if oauth.metadata_document else None)


def _registered_port(store: TokenFile) -> int | None:
    """The loopback port a stored registration's redirect URI names: a server may hold the
    client to it, so a later sign-in listens there again."""
    for uri in store.redirect_uris():
        parts = urlsplit(str(uri))
        if parts.hostname in ("127.0.0.1", "localhost") and parts.port:
            return parts.port
    return None


_PROVIDER: type[OAuthClientProvider] | None = None


def _browser_provider_class() -> type[OAuthClientProvider]:
    """`OAuthClientProvider` with two of our choices (the SDK imported on first use)."""
    global _PROVIDER
    if _PROVIDER is not None:
        return _PROVIDER
    from mcp.client.auth import OAuthClientProvider

    class BrowserSignIn(OAuthClientProvider):
        async def _initialize(self) -> None:
            await super()._initialize()
            storage = self.context.storage
            if not isinstance(storage, TokenFile):
                return
            # The SDK learns a token's lifetime only when it gets it; a stored one would look
            # valid forever and a 401 would start a new sign-in. With its expiry known, a lapsed
            # token is refreshed first.
            if self.context.current_tokens is not None:
                self.context.token_expiry_time = storage.expires_at()
            # The SDK discovers the authorization server only on a 401, after its refresh: with
            # nothing known it refreshes at the origin's `/token`, which fails wherever the token
            # endpoint lives elsewhere, and a person is asked to sign in again. What discovery
            # found when the tokens were issued is kept with them.
            known = storage.authorization_server()
            if known is not None and self.context.oauth_metadata is None:
                metadata, resource, url = known
                self.context.oauth_metadata, self.context.protected_resource_metadata = metadata, resource
                self.context.auth_server_url = url

        async def _auth_flow(self, request: httpx2.Request) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
            async with self.context.lock:
                if not self._initialized:
                    await self._initialize()
                lapsed = not self.context.is_token_valid() and self.context.can_refresh_token()
            flows = [super()._auth_flow(request)]
            if lapsed and self.context.oauth_metadata is None:  # a token file with no server kept
                flows.insert(0, _discover(self))
            for flow in flows:  # each request of each flow goes out, and its response back in
                try:
                    outgoing = await flow.__anext__()
                    while True:
                        outgoing = await flow.asend((yield outgoing))
                except StopAsyncIteration:
                    pass
                finally:
                    await flow.aclose()

        async def _handle_token_response(self, response: httpx2.Response) -> None:
            await super()._handle_token_response(response)
            self._keep_authorization_server()

        async def _handle_refresh_response(self, response: httpx2.Response) -> bool:
            refreshed = await super()._handle_refresh_response(response)
            if refreshed:
                self._keep_authorization_server()
            return refreshed

        def _keep_authorization_server(self) -> None:
            storage, context = self.context.storage, self.context
            if isinstance(storage, TokenFile) and context.oauth_metadata is not None:
                storage.set_authorization_server(context.oauth_metadata, context.protected_resource_metadata,
                                                 context.auth_server_url)

        async def _perform_authorization(self) -> httpx2.Request:
            self._choose_secret_method()
            return await super()._perform_authorization()

        async def _refresh_token(self) -> httpx2.Request:
            self._choose_secret_method()
            return await super()._refresh_token()

        def _choose_secret_method(self) -> None:
            # A pre-registered secret with no method named goes by client_secret_basic (the
            # OAuth default) unless the server's metadata lists post only; the SDK would send none.
            client = self.context.client_info
            if client is None or not client.client_secret or client.token_endpoint_auth_method:
                return
            supported = (self.context.oauth_metadata.token_endpoint_auth_methods_supported
                         if self.context.oauth_metadata else None)
            basic = not supported or "client_secret_basic" in supported or "client_secret_post" not in supported
            client.token_endpoint_auth_method = "client_secret_basic" if basic else "client_secret_post"

    _PROVIDER = BrowserSignIn
    return _PROVIDER


async def _discover(provider: OAuthClientProvider) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
    """Find the authorization server before a refresh, as the SDK's flow does on a 401 (its
    steps 1-2, with its own helpers): the resource's metadata at its well-known URLs, then the
    authorization server's. What is found goes into the provider's context; nothing found
    leaves it as it was (the SDK then refreshes at the origin, as before)."""
    from mcp.client.auth.utils import (
        build_oauth_authorization_server_metadata_discovery_urls,
        build_protected_resource_metadata_discovery_urls,
        create_oauth_metadata_request,
        handle_auth_metadata_response,
        handle_protected_resource_response,
        issuers_match,
        validate_metadata_issuer,
    )

    context = provider.context
    try:
        for url in build_protected_resource_metadata_discovery_urls(None, context.server_url):
            found = await handle_protected_resource_response((yield create_oauth_metadata_request(url)))
            if found is not None:
                await provider._validate_resource_match(found)
                context.protected_resource_metadata = found
                context.auth_server_url = provider._select_authorization_server(
                    [str(u) for u in found.authorization_servers])
                break
        expected = provider._expected_issuer()
        for url in build_oauth_authorization_server_metadata_discovery_urls(context.auth_server_url,
                                                                            context.server_url):
            ok, metadata = await handle_auth_metadata_response((yield create_oauth_metadata_request(url)))
            if not ok:
                break
            if metadata is not None:
                if context.auth_server_url is None and issuers_match(str(metadata.issuer), expected):
                    expected = str(metadata.issuer)  # a root issuer written with its trailing slash
                validate_metadata_issuer(metadata, expected)
                context.oauth_metadata = metadata
                break
    except Exception:  # noqa: BLE001 - refused metadata: the SDK's own flow decides, as before
        _SDK_AUTH_LOG.debug("discovery before a refresh failed", exc_info=True)


def _machine(config: HttpServer, oauth: OAuthSettings) -> httpx2.Auth:
    from mcp.client.auth.extensions.client_credentials import (
        ClientCredentialsOAuthProvider,
        PrivateKeyJWTOAuthProvider,
        SignedJWTParameters,
    )

    store = TokenFile(config.url)
    assert oauth.client_id is not None
    if oauth.private_key is not None:
        signer = SignedJWTParameters(issuer=oauth.client_id, subject=oauth.client_id, signing_key=oauth.private_key,
                                     signing_algorithm=oauth.signing_algorithm)
        return PrivateKeyJWTOAuthProvider(config.url, store, oauth.client_id, signer.create_assertion_provider(),
                                          scope=oauth.scope, issuer=oauth.issuer)
    assert oauth.client_secret is not None
    method = oauth.token_endpoint_auth_method if oauth.token_endpoint_auth_method != "none" else None
    return ClientCredentialsOAuthProvider(config.url, store, oauth.client_id, oauth.client_secret,
                                          token_endpoint_auth_method=method or "client_secret_basic",
                                          scope=oauth.scope, issuer=oauth.issuer)


def _cross_app(config: HttpServer, oauth: OAuthSettings) -> httpx2.Auth:
    from mcp.client.auth.extensions.identity_assertion import (
        IdentityAssertionOAuthProvider,
    )

    assert oauth.issuer and oauth.client_id and oauth.client_secret
    method = oauth.token_endpoint_auth_method if oauth.token_endpoint_auth_method != "none" else None

    async def id_jag(audience: str, resource: str) -> str:
        return await _exchange_id_token(oauth, audience, resource)

    return IdentityAssertionOAuthProvider(config.url, TokenFile(config.url), oauth.client_id, oauth.client_secret,
                                          oauth.issuer, id_jag, scope=oauth.scope,
                                          token_endpoint_auth_method=method or "client_secret_basic")


async def _exchange_id_token(oauth: OAuthSettings, audience: str, resource: str) -> str:
    """SEP-990 leg 1, which the SDK leaves to its caller: the person's ID token for an ID-JAG
    (Identity Assertion JWT Authorization Grant) at the IdP, by RFC 8693 token exchange."""
    import httpx2
    from mcp.client.auth import OAuthTokenError

    assert oauth.idp_token_endpoint and oauth.idp_client_id and oauth.id_token
    form: dict[str, Any] = {
        "grant_type": TOKEN_EXCHANGE, "requested_token_type": ID_JAG_TYPE,
        "subject_token": oauth.id_token, "subject_token_type": ID_TOKEN_TYPE,
        "audience": audience, "resource": resource, "client_id": oauth.idp_client_id,
    }
    if oauth.scope:
        form["scope"] = oauth.scope
    if oauth.idp_client_secret:
        form["client_secret"] = oauth.idp_client_secret
    async with httpx2.AsyncClient(timeout=IDP_TIMEOUT) as http:
        answer = await http.post(oauth.idp_token_endpoint, data=form)
    try:
        body = answer.json()
    except ValueError:
        body = {}
    if answer.status_code != 200 or not isinstance(body, dict) or not body.get("access_token"):
        problem = body.get("error_description") or body.get("error") if isinstance(body, dict) else None
        raise OAuthTokenError(f"the IdP refused the token exchange (HTTP {answer.status_code}"
                              f"{': ' + str(problem) if problem else ''})")
    if body.get("issued_token_type") not in (None, ID_JAG_TYPE):
        raise OAuthTokenError(f"the IdP issued a {body.get('issued_token_type')}, not an ID-JAG")
    return str(body["access_token"])
