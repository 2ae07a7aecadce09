"""Installing the kernel spec where Jupyter looks for it."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

KERNEL_NAME = "codemode"
DISPLAY_NAME = "Python 3 (Code Mode)"


def spec() -> dict[str, object]:
    """The kernel spec, run by this interpreter (so the kernel finds this installation)."""
    return {
        "argv": [sys.executable, "-m", "codemode.kernel", "-f", "{connection_file}"],
        "display_name": DISPLAY_NAME,
        "language": "python",
        "interrupt_mode": "signal",
        "metadata": {"debugger": False},
    }


def install(*, user: bool = False, prefix: str | None = None, name: str = KERNEL_NAME) -> str:
    """Install the spec: for this user, under `prefix` (`sys.prefix` for --sys-prefix), or
    system-wide. Returns the directory it was written to."""
    from jupyter_client.kernelspec import KernelSpecManager

    with tempfile.TemporaryDirectory() as source:
        (Path(source) / "kernel.json").write_text(json.dumps(spec(), indent=2) + "\n", encoding="utf-8")
        return KernelSpecManager().install_kernel_spec(source, name, user=user, prefix=prefix)
