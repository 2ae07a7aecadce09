"""The hub's own stdio transport keeps the SDK's spawn and shutdown contract.

`hub/_stdio.py` writes the SDK's defaults out instead of importing them (it must not import
the SDK, so that a server starts while the SDK loads); these tests hold the two equal, and
show that a server starts before the SDK is imported.
"""

from __future__ import annotations

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
