"""A server that died keeps its namespace: a session built on the hub meanwhile (what
`codemode serve` gives each client) still has it, and its first call starts it again."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from codemode.config import Config, StdioServer
from codemode.engine import Session


def test_a_session_shared_while_a_server_is_down_has_its_namespace_and_reconnects_it(tmp_path: Path) -> None:
    pid_file = tmp_path / "demo.pid"
    launcher = ("import os, sys; "
                f"open({str(pid_file)!r}, 'w').write(str(os.getpid())); "
                "os.execv(sys.executable, [sys.executable, '-m', 'codemode.demo'])")
    server = StdioServer(command=sys.executable, args=["-c", launcher],
                         env={"PYTHONPATH": os.environ.get("PYTHONPATH", ""), "PATH": os.environ["PATH"]})
    with Session(Config(servers={"demo": server}, source=None)) as root:
        assert root.run("demo.get_customer(customer_id=1)['id']").value == 1
        os.kill(int(pid_file.read_text()), signal.SIGKILL)
        deadline = time.monotonic() + 30
        report = root.run("demo.get_customer(customer_id=1)")
        while root.servers["demo"].status != "crashed" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not report.ok and root.servers["demo"].status == "crashed"

        with root.share() as client:
            again = client.run("demo.get_customer(customer_id=2)['id']")
            assert again.ok and again.value == 2, again.error
        assert root.servers["demo"].status == "connected"
