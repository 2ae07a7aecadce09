"""The size of each read from a pipe, for the worker's channel and asyncio's pipe transports.

Under glibc's 128 KiB mmap threshold on purpose: `os.read(fd, n)` allocates all `n` bytes
before trimming the buffer to what arrived, and asyncio's pipe transports ask for 256 KiB, so
every read of a small frame cost a mmap, page faults and a munmap (18-45 us a read here, two
or three reads a tool call). A big frame just takes a few more reads.

Standard library only: the sandbox worker imports it.
"""

from __future__ import annotations

READ_SIZE = 64 * 1024


def read_in_small_chunks(transport: object) -> None:
    """Make an asyncio read-pipe transport ask for `READ_SIZE` bytes a read.

    asyncio's pipe transport reads `self.max_size` bytes each time the pipe is readable
    (a class attribute, 256 KiB); a transport without it is left as it is.
    """
    if isinstance(getattr(transport, "max_size", None), int):
        transport.max_size = READ_SIZE  # type: ignore[attr-defined]
