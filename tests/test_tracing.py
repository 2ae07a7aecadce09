"""OpenTelemetry: a run's tool calls are spans of the caller's trace, and the trace goes on
to the server. The SDK's client makes a span for each request it sends and puts the W3C
`traceparent` in its `_meta`; codemode serves a run's calls in the sandbox's own tasks, so it
carries the trace of whoever called `Session.run` (a span of the caller's, `codemode serve`'s
request span) into each call.

Each test runs a script in a fresh interpreter: a tracer provider is global and set once.
The SDK (`opentelemetry-sdk`, a test dependency) records the spans in memory; the demo server
runs in the same process (the default config), so its spans are recorded too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import codemode

SRC = str(Path(codemode.__file__).parent.parent)

SCRIPT = r'''
import json, sys
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

from codemode.config import demo_config
from codemode.engine import Session

session = Session(demo_config())
session.start()
try:
    with trace.get_tracer("agent").start_as_current_span("agent step") as step:
        report = session.run("[demo.get_customer(customer_id=1)['id'], demo.get_customer(customer_id=2)['id']]")
    untraced = session.run("demo.get_customer(customer_id=3)['id']")
finally:
    session.close()
assert report.ok and untraced.ok, (report.error, untraced.error)
spans = [{"name": s.name, "trace": s.context.trace_id, "span": s.context.span_id,
          "parent": s.parent.span_id if s.parent else None, "kind": s.kind.name} for s in exporter.get_finished_spans()]
print(json.dumps({"step": {"trace": step.get_span_context().trace_id, "span": step.get_span_context().span_id},
                  "spans": spans}))
'''


def test_a_runs_tool_calls_are_child_spans_of_the_callers_span(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("CODEMODE_CONFIG", "PYTHONPATH")}
    env.update(PYTHONPATH=SRC, XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_STATE_HOME=str(tmp_path / "state"),
               XDG_CACHE_HOME=str(tmp_path / "cache"))
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    step = seen["step"]
    calls = [span for span in seen["spans"] if span["name"] == "MCP send tools/call get_customer" and span["kind"] == "CLIENT"]
    assert len(calls) == 3, [(s["name"], s["kind"], s["parent"]) for s in seen["spans"]]
    inside = [span for span in calls if span["trace"] == step["trace"]]
    # The two calls of the traced run are children of the caller's span; the untraced run's is a root of its own.
    assert len(inside) == 2 and all(span["parent"] == step["span"] for span in inside), (step, calls)
    [outside] = [span for span in calls if span["trace"] != step["trace"]]
    assert outside["parent"] is None
    # The server (the demo, in process here) continues the trace from the traceparent each call sent.
    served = [span for span in seen["spans"] if span["name"] == "tools/call get_customer" and span["kind"] == "SERVER"]
    assert sorted(span["parent"] for span in served if span["trace"] == step["trace"]) == \
        sorted(span["span"] for span in inside)


PEER = str(Path(__file__).parent / "hub" / "peer_server.py")


def test_codemode_serve_carries_each_requests_trace_to_the_upstream_servers_it_calls(tmp_path: Path) -> None:
    # No tracing SDK in the serve process: W3C trace context still flows, request to tool call.
    # Two executes of one session in two traces: each call is in its own request's trace (the
    # worker's channel task, started by the first, carries the first's context: not that one).
    import sys as _sys

    _sys.path.insert(0, str(Path(__file__).parent / "serve"))
    from _serving import run_stdio, write_config

    traces = ["4bf92f3577b34da6a3ce929d0e0e4736", "0af7651916cd43dd8448eb211c80319c"]
    config = write_config(tmp_path / "mcp.json", {"poolSize": 0, "preapproved": ["peer.*"]},
                          {"peer": {"command": sys.executable, "args": [PEER]}})

    async def scenario(client: Any) -> list[Any]:
        results, session = [], None
        for trace_id in traces:
            arguments = {"code": "peer.traceparent()", **({"session": session} if session else {})}
            result = await client.call_tool("execute", arguments, meta={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})
            session = result.structured_content["session"]
            results.append(result)
        return results

    for mode in ("legacy", "2026-07-28"):
        results = run_stdio(config, scenario, mode=mode)
        for trace_id, result in zip(traces, results, strict=True):
            assert not result.is_error, result.content[0].text
            assert result.structured_content["result"].split("-")[1] == trace_id, (mode, result.structured_content)


SITECUSTOMIZE = r'''
"""Loaded by every Python process the test starts (not the sandbox worker: it runs with -I -S):
a tracing SDK that appends each finished span as a JSON line to $CODEMODE_TEST_SPANS."""
import json, os

if os.environ.get("CODEMODE_TEST_SPANS"):
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    class Lines(SpanExporter):
        def export(self, spans):
            with open(os.environ["CODEMODE_TEST_SPANS"], "a") as out:
                for span in spans:
                    out.write(json.dumps({
                        "name": span.name, "kind": span.kind.name, "pid": os.getpid(),
                        "trace": format(span.context.trace_id, "032x"), "span": format(span.context.span_id, "016x"),
                        "parent": format(span.parent.span_id, "016x") if span.parent else None,
                        "events": [[event.name, dict(event.attributes or {})] for event in span.events]}) + "\n")
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(Lines()))
    trace.set_tracer_provider(provider)
'''


def test_with_a_tracing_sdk_codemode_serve_records_the_execute_its_prints_and_its_calls_in_one_trace(
        tmp_path: Path, monkeypatch: Any) -> None:
    import sys as _sys

    _sys.path.insert(0, str(Path(__file__).parent / "serve"))
    from _serving import run_stdio, write_config

    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    spans_file = tmp_path / "spans.jsonl"
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), SRC]))
    monkeypatch.setenv("CODEMODE_TEST_SPANS", str(spans_file))
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    peer = {"command": sys.executable, "args": [PEER],  # the hub gives a server only the environment it names
            "env": {"PYTHONPATH": os.environ["PYTHONPATH"], "CODEMODE_TEST_SPANS": str(spans_file)}}
    config = write_config(tmp_path / "mcp.json", {"poolSize": 0, "preapproved": ["peer.*"]}, {"peer": peer})

    async def scenario(client: Any) -> Any:
        return await client.call_tool("execute", {"code": "print('looking', flush=True)\npeer.traceparent()"},
                                      meta={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})

    result = run_stdio(config, scenario, mode="2026-07-28")
    assert not result.is_error, result.content[0].text
    spans = [json.loads(line) for line in spans_file.read_text().splitlines()]
    mine = [span for span in spans if span["trace"] == trace_id]
    [execute] = [span for span in mine if span["name"] == "tools/call execute" and span["kind"] == "SERVER"]
    assert execute["parent"] == "00f067aa0ba902b7"  # the client's span
    assert ["codemode.stdout", {"text": "looking"}] in execute["events"], execute["events"]
    [call] = [span for span in mine if span["name"] == "MCP send tools/call traceparent"]
    assert call["parent"] == execute["span"] and call["pid"] == execute["pid"]  # serve's hub, under the execute
    [served] = [span for span in mine if span["name"] == "tools/call traceparent" and span["kind"] == "SERVER"]
    assert served["parent"] == call["span"] and served["pid"] != call["pid"]  # the upstream server's own span
