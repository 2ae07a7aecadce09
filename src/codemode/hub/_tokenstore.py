"""Where sign-in tokens live: one file per server URL under `$XDG_STATE_HOME/codemode/oauth/`.

Invariants:
- The folder is 0700 and every file 0600, written whole (a temporary file renamed over the
  old one), so a reader never sees half a token and no other user reads one.
- A file is keyed by the server's URL (a hash of it: URLs hold characters a file name cannot)
  and says which URL it is for, so `codemode auth status` lists servers, not hashes.
- Tokens leave this module only towards the SDK's OAuth provider (the Authorization header);
  nothing here is logged, and no report, audit, cassette or transcript reads these files.
- Beside the tokens: the authorization server's metadata discovery found when they were
  issued, so a lapsed token is refreshed at its token endpoint before any discovery.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mcp.shared.auth import OAuthClientInformationFull, OAuthMetadata, OAuthToken, ProtectedResourceMetadata

STATE_ENV_VAR = "XDG_STATE_HOME"


def oauth_dir() -> Path:
    """`$XDG_STATE_HOME/codemode/oauth` (default `~/.local/state/codemode/oauth`)."""
    base = os.environ.get(STATE_ENV_VAR) or str(Path.home() / ".local" / "state")
    return Path(base) / "codemode" / "oauth"


def token_path(url: str) -> Path:
    return oauth_dir() / (hashlib.sha256(url.encode()).hexdigest()[:32] + ".json")


@dataclass(frozen=True)
class StoredSignIn:
    """What `codemode auth status` shows of one file: never a token or a secret."""

    url: str
    client_id: str | None
    scope: str | None
    expires_at: float | None  # epoch seconds; None when the server gave no lifetime
    refreshable: bool
    has_tokens: bool


class TokenFile:
    """The SDK's `TokenStorage` for one server URL, on disk.

    `fixed_client` is a pre-registered client from the config: it is what `get_client_info`
    answers, and a registration is never stored over it."""

    def __init__(self, url: str, fixed_client: OAuthClientInformationFull | None = None) -> None:
        self.url = url
        self.path = token_path(url)
        self.fixed_client = fixed_client

    # -- TokenStorage ----------------------------------------------------------------------

    async def get_tokens(self) -> OAuthToken | None:
        from mcp.shared.auth import OAuthToken

        raw = self._read().get("tokens")
        return OAuthToken.model_validate(raw) if raw else None

    async def set_tokens(self, tokens: OAuthToken) -> None:
        data = self._read()
        data["tokens"] = tokens.model_dump(mode="json", exclude_none=True)
        # The SDK keeps the expiry in memory only; kept here so a later process knows it.
        data["expiresAt"] = time.time() + tokens.expires_in if tokens.expires_in else None
        self._write(data)

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        from mcp.shared.auth import OAuthClientInformationFull

        if self.fixed_client is not None:
            return self.fixed_client
        raw = self._read().get("client")
        return OAuthClientInformationFull.model_validate(raw) if raw else None

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        if self.fixed_client is not None and client_info.client_id == self.fixed_client.client_id:
            return
        data = self._read()
        data["client"] = client_info.model_dump(mode="json", exclude_none=True)
        self._write(data)

    # -- the authorization server, kept with its tokens ------------------------------------

    def authorization_server(self) -> tuple[OAuthMetadata, ProtectedResourceMetadata | None, str | None] | None:
        """The authorization server the tokens came from, as discovery found it: its metadata
        (the token endpoint a refresh goes to), the resource's metadata and the server's URL;
        None when the file has none (an older file) or it does not parse."""
        from mcp.shared.auth import OAuthMetadata, ProtectedResourceMetadata
        from pydantic import ValidationError

        known = self._read().get("authorizationServer")
        if not isinstance(known, dict) or not isinstance(known.get("metadata"), dict):
            return None
        try:
            resource = known.get("resource")
            return (OAuthMetadata.model_validate(known["metadata"]),
                    ProtectedResourceMetadata.model_validate(resource) if isinstance(resource, dict) else None,
                    known["url"] if isinstance(known.get("url"), str) else None)
        except ValidationError:
            return None

    def set_authorization_server(self, metadata: OAuthMetadata, resource: ProtectedResourceMetadata | None,
                                 url: str | None) -> None:
        """Keep what discovery found beside the tokens (see `authorization_server`)."""
        data = self._read()
        entry = {"url": url, "metadata": metadata.model_dump(mode="json", exclude_none=True),
                 "resource": resource.model_dump(mode="json", exclude_none=True) if resource else None}
        if data.get("authorizationServer") != entry:
            data["authorizationServer"] = entry
            self._write(data)

    # -- for the faces ---------------------------------------------------------------------

    def exists(self) -> bool:
        return self.path.is_file()

    def forget_tokens(self) -> None:
        """Drop the tokens and keep the client registration (a fresh sign-in reuses it)."""
        data = self._read()
        if data.pop("tokens", None) is not None:
            data.pop("expiresAt", None)
            self._write(data)

    def remove(self) -> bool:
        """Forget this server entirely (`codemode auth logout`). False when nothing was stored."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True

    def summary(self) -> StoredSignIn:
        return summarize(self._read(), self.url)

    def redirect_uris(self) -> list[str]:
        """The redirect URIs of the stored registration (none for a pre-registered client)."""
        client = self._read().get("client") or {}
        return [str(uri) for uri in client.get("redirect_uris") or []]

    def expires_at(self) -> float | None:
        value = self._read().get("expiresAt")
        return float(value) if isinstance(value, (int, float)) else None

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {"url": self.url}
        return data if isinstance(data, dict) else {"url": self.url}

    def _write(self, data: dict[str, Any]) -> None:
        folder = self.path.parent
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder, 0o700)  # mkdir's mode is masked by the umask, and an old folder kept its own
        data["url"] = self.url
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")  # mkstemp: 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def summarize(data: dict[str, Any], url: str) -> StoredSignIn:
    tokens = data.get("tokens") or {}
    client = data.get("client") or {}
    expires = data.get("expiresAt")
    return StoredSignIn(url=str(data.get("url") or url), client_id=client.get("client_id"),
                        scope=tokens.get("scope"), expires_at=float(expires) if isinstance(expires, (int, float)) else None,
                        refreshable=bool(tokens.get("refresh_token")), has_tokens=bool(tokens.get("access_token")))


def stored_sign_ins() -> list[StoredSignIn]:
    """Every server with a file in the folder, by URL."""
    found = []
    for path in sorted(oauth_dir().glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("url"), str):
            found.append(summarize(data, data["url"]))
    return found
