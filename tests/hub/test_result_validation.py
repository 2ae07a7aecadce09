"""Structured results are still checked against `outputSchema`, with the IRI parsers deferred.

`codemode.hub._lazyiri` stands in for `rfc3987_syntax` so that importing `jsonschema` (which
the SDK does to validate results) no longer builds its IRI parsers up front. These tests run
in a fresh interpreter, since this one may have imported `jsonschema` already: a session
against a server whose structured result breaks its schema still fails that call, a
conforming one still passes, and jsonschema's IRI format check gives the same answers as
the real module does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROGUE = str(Path(__file__).resolve().parents[1] / "faults" / "rogue_server.py")
SRC = str(Path(__file__).resolve().parents[2] / "src")
TIMEOUT = 120.0
"""Seconds for the child: it starts a session and a server, both cold."""

SCRIPT = """
import json, sys
from codemode import Session
from codemode.config import parse_config

config = parse_config({"mcpServers": {"rogue": {"command": sys.executable, "args": [sys.argv[1], "echo-n"]}}})
code = '''
outcomes = []
for n in (3, "many"):
    try:
        outcomes.append(["ok", rogue.echo_n(n=n)])
    except Exception as exc:
        outcomes.append([type(exc).__name__, str(exc)])
outcomes
'''
with Session(config) as session:
    outcomes = session.run(code).value
held = type(sys.modules.get("rfc3987_syntax")).__name__
from jsonschema import Draft202012Validator
checker = Draft202012Validator({"format": "iri"}, format_checker=Draft202012Validator.FORMAT_CHECKER)
iris = [checker.is_valid(text) for text in ("https://example.com/caf\u00e9?q=1", "no scheme here", "http://[::1")]
print(json.dumps({"outcomes": outcomes, "held": held, "iris": iris,
                  "after": type(sys.modules.get("rfc3987_syntax")).__name__}))
"""


def run_child(script: str, *args: str) -> Any:
    env = {k: v for k, v in os.environ.items() if k != "CODEMODE_CONFIG"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [SRC, env.get("PYTHONPATH")]))
    env["CODEMODE_TOOL_CACHE"] = "0"
    done = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_result_that_breaks_its_output_schema_still_fails_the_call() -> None:
    seen = run_child(SCRIPT, ROGUE)
    (first, value), (kind, message) = seen["outcomes"]
    assert (first, value) == ("ok", {"n": 3})
    assert kind == "ToolError"
    assert "Invalid structured content" in message and "'many' is not of type 'integer'" in message
    # The SDK validated both results without building the IRI parsers ...
    assert seen["held"] == "_Deferred"
    # ... which load, and answer as the real module does, at the first IRI checked.
    assert seen["iris"] == [True, False, False]
    assert seen["after"] == "module"


def test_the_iri_check_answers_as_without_the_stand_in() -> None:
    plain = """
import json
from jsonschema import Draft202012Validator
checker = Draft202012Validator({"format": "iri-reference"}, format_checker=Draft202012Validator.FORMAT_CHECKER)
print(json.dumps([checker.is_valid(t) for t in ("../a/b?c#d", "caf\u00e9/x", "http://[::1", "a b")]))
"""
    deferred = "from codemode.hub import _lazyiri\nassert _lazyiri.install()\n" + plain
    assert run_child(deferred) == run_child(plain)
