"""Ids for runs and sessions: sortable by creation time, unique across processes.

ULID-shaped: 26 Crockford base32 characters, 48 bits of milliseconds since the epoch then
80 random bits. Ids made later sort later (within one process also within a millisecond:
the random part is bumped, as ULID's monotonic variant does), and two processes making ids
in the same millisecond collide only with chance 2^-80.
"""

from __future__ import annotations

import os
import threading
import time

__all__ = ["new_id"]

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_BITS = 80
_lock = threading.Lock()
_last = (0, 0)  # (milliseconds, random part) of the last id this process made


def new_id() -> str:
    """A new id, e.g. `01JDQ3ZK5W4X8M2N6P0R7S9T1V`."""
    global _last
    with _lock:
        millis = time.time_ns() // 1_000_000
        last_millis, last_random = _last
        if millis <= last_millis:
            millis, random = last_millis, last_random + 1  # same (or an earlier) millisecond
        else:
            random = int.from_bytes(os.urandom(_RANDOM_BITS // 8), "big")
        _last = (millis, random)
    number = (millis << _RANDOM_BITS) | (random & ((1 << _RANDOM_BITS) - 1))
    return "".join(_ALPHABET[(number >> shift) & 31] for shift in range(125, -1, -5))
