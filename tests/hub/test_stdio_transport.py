"""The hub's own stdio transport keeps the SDK's spawn and shutdown contract.

`hub/_stdio.py` writes the SDK's defaults out instead of importing them (it must not import
the SDK, so that a server starts while the SDK loads); these tests hold the two equal, and
show that a server starts before the SDK is imported.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap

import mcp.client.stdio as sdk_stdio

from codemode.hub import _stdio


def test_the_timeouts_and_the_inherited_environment_are_the_sdks() -> None:
    assert _stdio.PROCESS_TERMINATION_TIMEOUT == sdk_stdio.PROCESS_TERMINATION_TIMEOUT
    assert _stdio.FORCE_KILL_TIMEOUT == sdk_stdio.FORCE_KILL_TIMEOUT
    assert tuple(sdk_stdio.DEFAULT_INHERITED_ENV_VARS) == _stdio.INHERITED_ENV
    assert _stdio.default_environment() == sdk_stdio.get_default_environment()


def test_the_transport_module_imports_no_sdk() -> None:
    probe = textwrap.dedent("""
        import sys
        import codemode.hub._stdio
        print(sorted(m for m in sys.modules if m == "mcp" or m.startswith(("mcp.", "mcp_types"))))
    """)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _lines_read_in(chunks: list[bytes]) -> list[object]:
    """The ids of the messages the transport makes of stdout arriving in these chunks."""
    async def feed() -> list[object]:
        pipes = _stdio._ServerPipes(asyncio.get_running_loop())
        for chunk in chunks:
            pipes.pipe_data_received(1, chunk)
        return [message.message.id for message in pipes.inbox]  # type: ignore[union-attr]

    return asyncio.run(feed())


def _message(n: int, text: str) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": n, "result": {"text": text}}).encode() + b"\n"


def test_lines_are_whole_however_the_pipe_cuts_them() -> None:
    stream = b"".join([_message(1, "a"), b"\n", _message(2, "b" * 300_000), _message(3, "c")])
    expected = [1, 2, 3]
    assert _lines_read_in([stream]) == expected
    for size in (1, 7, 4096, 65536):
        assert _lines_read_in([stream[i:i + size] for i in range(0, len(stream), size)]) == expected, size
    cut = stream.index(b"\n") + 1  # a chunk that ends exactly at a line's end, then an empty one
    assert _lines_read_in([stream[:cut], b"", stream[cut:]]) == expected

