"""A host process for the fault suite: a Session on the demo server that runs one cell.

`python host.py CODE [--allow-subprocess] [--linger]` starts the session, runs CODE with its
output streamed to stdout as it happens (a line `started` first), prints `finished` when the
run ends, then closes the session (with `--linger`, it waits for its end instead: the worker
stays, paused between cells). The tests kill it at chosen moments.
"""

from __future__ import annotations

import sys

from codemode.config import demo_config
from codemode.engine import Session


def main() -> None:
    code = sys.argv[1]
    session = Session(demo_config())
    if "--allow-subprocess" in sys.argv:
        session.sandbox_options = session.sandbox_options.with_flags(allow_subprocess=True)
    session.start()
    print("started", flush=True)

    def echo(event: tuple[str, object]) -> None:
        if event[0] == "stdout":
            sys.stdout.write(str(event[1]))
            sys.stdout.flush()

    report = session.run(code, on_event=echo, timeout=600)
    print("finished", report.ok, flush=True)
    if "--linger" in sys.argv:
        import threading

        threading.Event().wait()
    session.close()


if __name__ == "__main__":
    main()
