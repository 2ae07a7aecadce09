"""A person's browser sign-in: the authorization URL opened with `webbrowser`, the redirect
caught on a loopback port (RFC 8252 section 7.3).

Invariants:
- The port is chosen when the redirect URI is first needed, before the client registers (a
  stored registration's port is kept: its redirect URI must match), and listens before the
  browser starts: an authorization endpoint that redirects at once finds it ready.
- The listener runs on the event loop (asyncio streams) and `webbrowser.open` on a thread, since
  with `$BROWSER` set it runs that command and waits for it; the loop stays free meanwhile.
- Only the loopback address is bound; one request with the expected path ends the wait, any
  other path gets 404. The page the browser lands on carries no code or token.
- The wait is bounded (SIGN_IN_TIMEOUT) and cancellable: a notebook's stop button or Ctrl-C ends it.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import webbrowser
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import anyio
import anyio.to_thread

from codemode.errors import ServerConnectError

if TYPE_CHECKING:
    from mcp.shared.auth import AuthorizationCodeResult

# A person reads the page, perhaps signs in with a password and a second factor.
SIGN_IN_TIMEOUT = 300.0
# The browser's request line and headers; anything longer is not a redirect of ours.
MAX_REQUEST = 64 * 1024
CALLBACK_PATH = "/callback"
LOOPBACK = "127.0.0.1"
DONE_PAGE = (b"<!doctype html><title>codemode</title><p>Signed in. You can close this tab and go back "
             b"to codemode.</p>")

# Who shows the link: (server name, URL). The default prints to stderr (the command line);
# a notebook face sets its own. One per process, as there is one person at the keyboard.
Presenter = Callable[[str, str], None]


def print_link(server: str, url: str) -> None:
    print(f"codemode: sign in to {server}: opening {url}", file=sys.stderr, flush=True)


presenter: Presenter = print_link


class Loopback:
    """The redirect URI of one server's sign-in and the listener behind it."""

    def __init__(self, server: str, port: int | None = None, on_start: Callable[[], None] | None = None) -> None:
        """`port`: the one a stored registration names (its redirect URI must match); None: a
        free one. `on_start`: called as a person is asked (the hub lifts its connect deadline)."""
        self.server = server
        self._port = port
        self._on_start = on_start
        self._result: asyncio.Future[AuthorizationCodeResult] | None = None
        self._listener: asyncio.Server | None = None

    @property
    def redirect_uri(self) -> str:
        if self._port is None:  # a free port now; bound again, to listen, when the sign-in starts
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.bind((LOOPBACK, 0))
                self._port = int(probe.getsockname()[1])
        return f"http://{LOOPBACK}:{self._port}{CALLBACK_PATH}"

    async def open(self, url: str) -> None:
        """The SDK's redirect handler: listen, then show the link and open the browser."""
        loop = asyncio.get_running_loop()
        self.redirect_uri  # noqa: B018 - fixes the port
        await self.close()
        self._result = loop.create_future()
        try:
            self._listener = await asyncio.start_server(self._answer, LOOPBACK, self._port, reuse_address=True)
        except OSError as exc:
            raise ServerConnectError(self.server, f"cannot listen for the sign-in redirect on {LOOPBACK}:"
                                     f"{self._port} ({exc.strerror}); free the port, or run "
                                     f"`codemode auth logout {self.server}` to register anew") from exc
        if self._on_start is not None:
            self._on_start()
        presenter(self.server, url)
        # `webbrowser` runs `$BROWSER URL` and waits for it: on a thread, so the loop can take
        # the redirect meanwhile. Where no browser can start, the printed link is the way.
        await anyio.to_thread.run_sync(_open_browser, url, abandon_on_cancel=True)

    async def wait(self) -> AuthorizationCodeResult:
        """The SDK's callback handler: the code and state the redirect brought."""
        assert self._result is not None, "open() first"
        try:
            with anyio.fail_after(SIGN_IN_TIMEOUT):
                return await self._result
        except TimeoutError:
            raise ServerConnectError(self.server, f"nobody finished signing in within {SIGN_IN_TIMEOUT:g} s; "
                                     f"run `codemode auth login {self.server}` to try again") from None
        finally:
            await self.close()

    async def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
            await listener.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        from mcp.shared.auth import AuthorizationCodeResult

        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        line = head[:MAX_REQUEST].split(b"\r\n", 1)[0].decode("latin-1")
        method, _, rest = line.partition(" ")
        target = rest.rpartition(" ")[0]
        parts = urlsplit(target)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        if method != "GET" or parts.path != CALLBACK_PATH:
            writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        elif "code" not in query:
            problem = query.get("error_description") or query.get("error") or "no authorization code"
            writer.write(_page(400, b"<p>Sign-in failed.</p>"))
            self._settle(exception=ServerConnectError(self.server, f"the sign-in failed: {problem}"))
        else:
            writer.write(_page(200, DONE_PAGE))
            self._settle(AuthorizationCodeResult(code=query["code"], state=query.get("state"), iss=query.get("iss")))
        try:
            await writer.drain()
        finally:
            writer.close()

    def _settle(self, result: AuthorizationCodeResult | None = None, exception: Exception | None = None) -> None:
        if self._result is None or self._result.done():
            return
        if exception is not None:
            self._result.set_exception(exception)
        else:
            self._result.set_result(result)  # type: ignore[arg-type]


def _page(status: int, body: bytes) -> bytes:
    reason = b"OK" if status == 200 else b"Bad Request"
    return (b"HTTP/1.1 %d %s\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\n"
            b"Cache-Control: no-store\r\nConnection: close\r\n\r\n" % (status, reason, len(body))) + body


def _open_browser(url: str) -> None:
    try:
        webbrowser.open(url)
    except webbrowser.Error:
        pass  # the link is shown; a person can open it by hand
