"""Trust: who may do what, and what is kept of it.

`policy` decides what a run may do (allowed servers and tools, call caps, output caps);
`approval` decides which calls need a person's yes and carries the answer; `approvers` are
the faces' ways of asking (kernel stdin, terminal, MCP elicitation); `audit` is the sink of a
session's events; `redact` is the one redactor that everything written for later reading
goes through. The host enforces all of it; nothing here is trusted to the sandbox.

May import: `errors`, `shared`, `config`, `schema`. Nothing here talks to a server or a worker.
"""
