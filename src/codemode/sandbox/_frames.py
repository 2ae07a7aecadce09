"""Length-prefixed JSON frames: the only language the worker and the host share.

A frame is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON holding one
object with an `op` key. Both ends cap the length before reading the body, so a frame that
claims to be huge is refused without allocating it, and nothing but `json.loads` ever touches
the bytes: no pickle, no eval.

This module is imported by the sandbox worker: standard library only.
"""

from __future__ import annotations

import json
import struct

TYPE_CHECKING = False  # importing `typing` costs ~10 ms of worker start-up
if TYPE_CHECKING:
    from typing import Any

HEADER = struct.Struct(">I")

# Frames from the worker are untrusted; 32 MiB holds any honest cell result or argument set
# and bounds what a hostile one can make the host allocate.
MAX_WORKER_FRAME = 32 * 1024 * 1024
# Frames from the host carry tool results, which can be large files read by a server.
MAX_HOST_FRAME = 256 * 1024 * 1024
# Levels of lists and objects a frame from the worker may nest (the frame itself is one):
# deeper than any honest argument set or result; a hostile frame could nest to the size cap.
# The worker cuts or refuses deeper values itself, so an honest deep one never kills it.
MAX_DEPTH = 100


class FrameError(ValueError):
    """A frame that is too large, not UTF-8 JSON, or not an object with an `op`."""


def encode(message: dict[str, Any]) -> bytes:
    """Serialise one message as a frame (compact JSON, UTF-8, length prefix)."""
    try:
        body = json.dumps(message, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    except UnicodeEncodeError:
        # A lone surrogate (`"\udcff"`, a `surrogateescape`d byte) has no UTF-8: sent as a JSON
        # escape, which the host's frame check turns into U+FFFD (`_checks`).
        body = json.dumps(message, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()
    return HEADER.pack(len(body)) + body


def decode(body: bytes) -> dict[str, Any]:
    """Parse one frame body; raise FrameError on anything but a JSON object with a string `op`."""
    try:
        message = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, RecursionError, ValueError) as exc:
        raise FrameError(f"frame is not UTF-8 JSON: {exc}") from None
    if not isinstance(message, dict) or not isinstance(message.get("op"), str):
        raise FrameError("frame is not a JSON object with a string 'op'")
    return message


def body_length(header: bytes, limit: int) -> int:
    """Read the length from a frame header, refusing lengths over `limit`."""
    (length,) = HEADER.unpack(header)
    if length > limit:
        raise FrameError(f"frame of {length} bytes is over the {limit}-byte limit")
    return length


class FrameBuffer:
    """Accumulates bytes read from a pipe and splits them into frames.

    Used by the worker over a blocking fd: `feed` what `os.read` returned, then `pop` whole
    frames. Keeping one buffer lets a blocking reader and an event-loop reader share the fd.
    """

    def __init__(self, limit: int) -> None:
        self._data = bytearray()
        self._limit = limit

    def feed(self, chunk: bytes) -> None:
        self._data += chunk

    def pop(self) -> dict[str, Any] | None:
        """Return the next whole frame, or None when more bytes are needed."""
        body = self.pop_body()
        return None if body is None else decode(body)

    def pop_body(self) -> bytes | None:
        """The next whole frame's body, undecoded, or None when more bytes are needed."""
        if len(self._data) < HEADER.size:
            return None
        length = body_length(bytes(self._data[: HEADER.size]), self._limit)
        end = HEADER.size + length
        if len(self._data) < end:
            return None
        body = bytes(self._data[HEADER.size : end])
        del self._data[:end]
        return body
