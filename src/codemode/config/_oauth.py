"""A server entry's `oauth` object: how the hub signs in to an HTTP server that asks for it.

    "oauth": {}                                              sign in in a browser (dynamic registration)
    "oauth": {"clientId": "...", "clientSecret": "...", "scopes": [...]}   a pre-registered client
    "oauth": {"clientId": "https://.../client.json"}         a client ID metadata document
    "oauth": {"grant": "client_credentials", "clientId": "...", "clientSecret": "..."}
    "oauth": {"grant": "client_credentials", "clientId": "...", "privateKey": "-----BEGIN...",
              "signingAlgorithm": "ES256"}                   private_key_jwt
    "oauth": {"grant": "identity_assertion", "issuer": "...", "clientId": "...", "clientSecret": "...",
              "idpTokenEndpoint": "...", "idpClientId": "...", "idToken": "..."}   SEP-990

String values take `${VAR}` like `headers` do, and what they expand to is redacted everywhere.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

GRANTS = ("authorization_code", "client_credentials", "identity_assertion")


def _alias(camel: str, snake: str) -> AliasChoices:
    return AliasChoices(camel, snake)


class OAuthSettings(BaseModel):
    """How to sign in to one server (all fields optional for the browser sign-in)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    grant: Literal["authorization_code", "client_credentials", "identity_assertion"] = Field(
        "authorization_code",
        description="'authorization_code' (a person signs in in a browser), 'client_credentials' "
                    "(a machine client) or 'identity_assertion' (SEP-990 enterprise cross-app access).")
    client_id: str | None = Field(
        None, validation_alias=_alias("clientId", "client_id"),
        description="A pre-registered client ID; an https:// URL is a client ID metadata document. "
                    "None: the client registers itself (dynamic client registration).")
    client_secret: str | None = Field(
        None, validation_alias=_alias("clientSecret", "client_secret"),
        description="The pre-registered client's secret (sent with client_secret_basic unless the "
                    "server's metadata or tokenEndpointAuthMethod says otherwise).")
    scopes: tuple[str, ...] | None = Field(
        None, description="Scopes to ask for; None: those of the server's 401, else those it lists.")
    token_endpoint_auth_method: Literal["client_secret_basic", "client_secret_post", "none"] | None = Field(
        None, validation_alias=_alias("tokenEndpointAuthMethod", "token_endpoint_auth_method"),
        description="How a pre-registered secret is sent; None: basic unless the server supports post only.")
    private_key: str | None = Field(
        None, validation_alias=_alias("privateKey", "private_key"),
        description="PEM private key for private_key_jwt (client_credentials grant).")
    signing_algorithm: str = Field(
        "RS256", validation_alias=_alias("signingAlgorithm", "signing_algorithm"),
        description="The JWS algorithm of the private_key_jwt assertion (RS256, ES256, ...).")
    issuer: str | None = Field(
        None, description="The authorization server's issuer: credentials go to it only. Required for "
                          "identity_assertion; for client_credentials, None trusts the server's pointer.")
    idp_token_endpoint: str | None = Field(
        None, validation_alias=_alias("idpTokenEndpoint", "idp_token_endpoint"),
        description="identity_assertion: the enterprise IdP's token endpoint (RFC 8693 token exchange).")
    idp_client_id: str | None = Field(
        None, validation_alias=_alias("idpClientId", "idp_client_id"),
        description="identity_assertion: this client's ID at the IdP.")
    idp_client_secret: str | None = Field(
        None, validation_alias=_alias("idpClientSecret", "idp_client_secret"),
        description="identity_assertion: this client's secret at the IdP, if it has one.")
    id_token: str | None = Field(
        None, validation_alias=_alias("idToken", "id_token"),
        description="identity_assertion: the person's ID token from the IdP, exchanged for an ID-JAG.")

    @property
    def scope(self) -> str | None:
        """The scopes as OAuth's space-separated string."""
        return " ".join(self.scopes) if self.scopes else None

    @property
    def metadata_document(self) -> bool:
        """True when `clientId` is a client ID metadata document (an https:// URL)."""
        return self.client_id is not None and self.client_id.startswith("https://")

    @model_validator(mode="after")
    def _complete(self) -> OAuthSettings:
        missing = [name for name, value in self._required() if not value]
        if missing:
            raise ValueError(f"the {self.grant} grant needs {', '.join(repr(m) for m in missing)}")
        if self.private_key is not None and self.grant != "client_credentials":
            raise ValueError("'privateKey' (private_key_jwt) goes with \"grant\": \"client_credentials\"")
        if self.grant == "client_credentials" and self.client_secret and self.private_key:
            raise ValueError("give 'clientSecret' or 'privateKey', not both")
        for name, url in (("issuer", self.issuer), ("idpTokenEndpoint", self.idp_token_endpoint)):
            if url is not None and urlsplit(url).scheme not in ("http", "https"):
                raise ValueError(f"{name!r} must be an http:// or https:// URL")
        return self

    def _required(self) -> list[tuple[str, object]]:
        if self.grant == "client_credentials":
            return [("clientId", self.client_id), ("clientSecret or privateKey", self.client_secret or self.private_key)]
        if self.grant == "identity_assertion":
            return [("issuer", self.issuer), ("clientId", self.client_id), ("clientSecret", self.client_secret),
                    ("idpTokenEndpoint", self.idp_token_endpoint), ("idpClientId", self.idp_client_id),
                    ("idToken", self.id_token)]
        if self.client_secret and not self.client_id:
            return [("clientId", None)]
        return []
