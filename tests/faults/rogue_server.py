"""A misbehaving MCP server over stdio, for the fault suite: standard library only.

`python rogue_server.py MODE [MARKER]`, MODE one of:
- `hang-init`: reads its input and never answers (a server stuck in initialize);
- `slow-init`: answers like `silent-call`, but only 3 s after `initialize` arrives;
- `garbage`: answers every request with a line that is not JSON-RPC;
- `exit-on-list`: answers `initialize`, then exits with a message on stderr at `tools/list`;
- `silent-call`: answers `initialize` and `tools/list` (one tool, `wait`), never a call;
- `linger`: like `silent-call`, but when its input closes it touches MARKER and stays
  (until the SDK's escalation signals it);
- `flood`: like `silent-call`, but a call is answered after FLOOD log notifications with
  a line that is not JSON-RPC among them, all in one write (more than a pipe holds);
- `chatty-exit`: like `silent-call`, but when its input closes it writes FLOOD * 5 log
  notifications (more than any pipe holds), then touches MARKER and exits;
- `half-line`: like `silent-call`, but a call gets the first 300,000 bytes of its answer's
  line (several reads of the pipe, no line end), then the server exits with a message;
- `echo-n`: one tool, `echo_n`, whose `outputSchema` wants an integer `n`; a call returns
  its argument `n` as the structured result, conforming or not;
- `deep`: one tool, `deep`, whose structured result is a list nested `depth` deep (its
  argument): past what a JSON-RPC parser with a recursion limit takes.

With $ROGUE_STARTED set, it first appends its mode to that file.
"""

from __future__ import annotations

import json
import os
import sys
import time

# Read-only, so no approval is asked before a call (a destructive tool would wait for a yes).
TOOL = {"name": "wait", "description": "Never answers.", "inputSchema": {"type": "object", "properties": {}},
        "annotations": {"readOnlyHint": True}}

ECHO_N = {"name": "echo_n", "description": "Returns its n.", "annotations": {"readOnlyHint": True},
          "inputSchema": {"type": "object", "properties": {"n": {}}},
          "outputSchema": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}}

DEEP = {"name": "deep", "description": "A value nested depth deep.", "annotations": {"readOnlyHint": True},
        "inputSchema": {"type": "object", "properties": {"depth": {"type": "integer"}}}}

FLOOD = 3000


def flood(request: dict[str, object]) -> None:
    lines = [json.dumps({"jsonrpc": "2.0", "method": "notifications/message",
                         "params": {"level": "info", "logger": "flood", "data": f"line {i}"}})
             for i in range(FLOOD)]
    lines.insert(FLOOD // 2, "not JSON-RPC, in the middle of the flood")
    lines.append(json.dumps({"jsonrpc": "2.0", "id": request["id"],
                             "result": {"content": [{"type": "text", "text": "flooded"}]}}))
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def answer(request: dict[str, object], result: dict[str, object]) -> None:
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": result}) + "\n")
    sys.stdout.flush()


def main() -> None:
    mode = sys.argv[1]
    if os.environ.get("ROGUE_STARTED"):  # for tests that check a command started no server
        with open(os.environ["ROGUE_STARTED"], "a", encoding="utf-8") as log:
            log.write(mode + "\n")
    sys.stderr.write(f"rogue server: mode {mode}\n")
    sys.stderr.flush()
    for line in sys.stdin:
        request = json.loads(line)
        method = request.get("method")
        if "id" not in request or mode == "hang-init":
            continue
        if mode == "garbage":
            sys.stdout.write("this is not JSON-RPC {{{\n")
            sys.stdout.flush()
            continue
        if method == "initialize":
            if mode == "slow-init":
                time.sleep(3)
            params = request.get("params") or {}
            answer(request, {"protocolVersion": params.get("protocolVersion", "2025-06-18"),
                             "capabilities": {"tools": {}}, "serverInfo": {"name": "rogue", "version": "0"}})
        elif method == "tools/list":
            if mode == "exit-on-list":
                sys.stderr.write("rogue server: exiting during tools/list, on purpose\n")
                sys.exit(3)
            answer(request, {"tools": [{"echo-n": ECHO_N, "deep": DEEP}.get(mode, TOOL)]})
        elif method == "tools/call" and mode == "flood":
            flood(request)
        elif method == "tools/call" and mode == "half-line":
            line = json.dumps({"jsonrpc": "2.0", "id": request["id"],
                               "result": {"content": [{"type": "text", "text": "x" * 600_000}]}})
            sys.stdout.write(line[:300_000])
            sys.stdout.flush()
            sys.stderr.write("rogue server: exiting in the middle of an answer, on purpose\n")
            sys.stderr.flush()
            sys.exit(4)
        elif method == "logging/setLevel":
            answer(request, {})
        elif method == "tools/call" and mode == "echo-n":
            n = ((request.get("params") or {}).get("arguments") or {}).get("n")
            answer(request, {"content": [{"type": "text", "text": json.dumps({"n": n})}],
                             "structuredContent": {"n": n}})
        elif method == "tools/call" and mode == "deep":
            depth = int(((request.get("params") or {}).get("arguments") or {}).get("depth", 1))
            answer(request, {"content": [{"type": "text", "text": "deep"}],
                             "structuredContent": {"value": json.loads("[" * depth + "0" + "]" * depth)}})
        elif method == "ping":
            answer(request, {})
    if mode == "linger":
        open(sys.argv[2], "w").close()
        time.sleep(600)
    if mode == "chatty-exit":
        for i in range(FLOOD * 5):
            sys.stdout.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/message",
                                         "params": {"level": "info", "data": f"goodbye {i}"}}) + "\n")
        sys.stdout.flush()
        open(sys.argv[2], "w").close()


if __name__ == "__main__":
    main()
