"""The client command the MCP conformance suite runs (`client.py URL`, with
`MCP_CONFORMANCE_SCENARIO` and, for some scenarios, `MCP_CONFORMANCE_CONTEXT` set): codemode's
hub as the client under test.

It writes the config a person would write for the scenario (a server entry for URL, with the
`oauth` object the scenario's context calls for), connects the hub, lists the tools and calls
each one with arguments made from its input schema, as code in a cell would; a question the
server asks is answered as `"elicit": "defaults"` answers it. Sign-in runs
through `$BROWSER` (tests/conformance/browser.py). Exit status 0 when every step answered.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import tempfile
import urllib.parse
import urllib.request
from typing import Any

from codemode.config import parse_config
from codemode.hub import Hub, get_portal
from codemode.trust.elicitation import Question, defaults_reply

EXIT_WAIT = 30.0


def oauth_entry(scenario: str, context: dict[str, Any]) -> dict[str, Any]:
    """The `oauth` object a person would write for this scenario's server."""
    if "idp_token_endpoint" in context:  # SEP-990: the issuer is the person's configuration
        return {"grant": "identity_assertion", "issuer": context["issuer"], "clientId": context["client_id"],
                "clientSecret": context["client_secret"], "idpTokenEndpoint": context["idp_token_endpoint"],
                "idpClientId": context["idp_client_id"], "idToken": context["idp_id_token"]}
    if "private_key_pem" in context:
        return {"grant": "client_credentials", "clientId": context["client_id"],
                "privateKey": context["private_key_pem"], "signingAlgorithm": context.get("signing_algorithm", "RS256")}
    if scenario.startswith("auth/client-credentials"):
        return {"grant": "client_credentials", "clientId": context["client_id"], "clientSecret": context["client_secret"]}
    if "client_id" in context:
        return {"clientId": context["client_id"], "clientSecret": context.get("client_secret")}
    if scenario == "auth/basic-cimd":
        return {"clientId": "https://conformance-test.local/client-metadata.json"}
    return {}


def authorization_server(url: str) -> str:
    """The issuer a person configures for SEP-990, looked up here in the server's protected
    resource metadata (the provider itself never asks the server which issuer to trust)."""
    parts = urllib.parse.urlsplit(url)
    where = f"{parts.scheme}://{parts.netloc}/.well-known/oauth-protected-resource{parts.path}"
    with urllib.request.urlopen(where, timeout=10) as answer:
        return str(json.load(answer)["authorization_servers"][0])


def arguments_for(schema: dict[str, Any]) -> dict[str, Any]:
    """Values for the required properties, as a person filling the call in would give."""
    samples = {"integer": 1, "number": 1, "boolean": True, "string": "hello", "array": [], "object": {}}
    properties = schema.get("properties") or {}
    return {name: samples.get(str((properties.get(name) or {}).get("type")), "hello")
            for name in schema.get("required") or []}


async def answer_with_defaults(params: dict[str, Any]) -> dict[str, Any]:
    """A question from the server, answered as `"elicit": "defaults"` answers it in a run."""
    question = Question("peer", None, str(params.get("message", "")), "url" if params.get("mode") == "url" else "form",
                        dict(params.get("requestedSchema") or {}), params.get("url"))
    return defaults_reply(question).wire()


def main(url: str) -> int:
    # A fresh token folder: a scenario never reuses an earlier one's sign-in.
    os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="codemode-conformance-", dir=os.environ.get("XDG_STATE_HOME"))
    scenario = os.environ.get("MCP_CONFORMANCE_SCENARIO", "")
    context = json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}")
    entry: dict[str, Any] = {"url": url}
    if scenario.startswith("auth/"):
        if "idp_token_endpoint" in context:
            context["issuer"] = authorization_server(url)
        entry["oauth"] = oauth_entry(scenario, context)
    config = parse_config({"mcpServers": {"peer": entry}}, environ={})
    portal = get_portal()
    hub = Hub(config, cached=False)
    task, _ = portal.start_task(hub.serve, name="conformance-hub")
    failed = 0
    try:
        state = hub.servers["peer"]
        if state.status != "connected":
            print(f"not connected: {state.error}", file=sys.stderr)
            return 1
        for tool in state.tools:
            result = portal.call(functools.partial(hub.call, "peer", tool.name, arguments_for(tool.input_schema),
                                                   on_question=answer_with_defaults))
            print(f"{tool.name}: {'ok' if result.ok else result.error}")
            failed += not result.ok
    finally:
        portal.call(hub.aclose)
        task.result(timeout=EXIT_WAIT)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
