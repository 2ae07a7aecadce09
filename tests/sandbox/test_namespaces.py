"""The namespace layer on its own, in a child process: no network, no capability over files.

(The escape suite tests the layers together, through the worker.)
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _in_namespaces(code: str) -> dict[str, object]:
    """Run `code` after `_namespaces.enter()` in a fresh interpreter; it prints one JSON line."""
    script = "from codemode.sandbox import _namespaces\nrow = _namespaces.enter()\n" + textwrap.dedent(code)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": SRC}, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def available() -> None:
    row = _in_namespaces("import json; print(json.dumps(row))")
    if not row["active"]:
        pytest.skip(f"user namespaces: {row['detail']}")


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.5)
    yield server
    server.close()


@pytest.mark.escape("network")
def test_the_host_loopback_is_unreachable_and_nothing_arrives(available: None, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    outcome = _in_namespaces(f"""
        import json, socket
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=2)
            print(json.dumps({{"connected": True}}))
        except OSError as exc:
            print(json.dumps({{"connected": False, "errno": exc.errno}}))
    """)
    assert outcome["connected"] is False
    with pytest.raises(TimeoutError):
        listener.accept()


@pytest.mark.escape("files")
@pytest.mark.skipif(os.geteuid() != 0, reason="checks that root loses its override of file modes")
def test_root_in_the_namespace_cannot_read_another_users_private_file(available: None, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("codemode-ns-secret")
    secret.chmod(0o600)
    os.chown(secret, 4321, 4321)
    outcome = _in_namespaces(f"""
        import json, os
        try:
            text = open({str(secret)!r}).read()
        except OSError as exc:
            text = None
        print(json.dumps({{"text": text, "uid": os.getuid()}}))
    """)
    assert outcome["text"] is None
    assert outcome["uid"] == 65534  # no id is mapped into the worker's user namespace
