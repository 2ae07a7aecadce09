"""The token account: what a run cost in code mode against classic one-by-one tool calling.

`metrics` counts (a real o200k BPE where installed, a labelled estimate otherwise) and builds
the two columns of an account; `accounting` holds a session's `Accountant`, which
knows what this face's reader read (every stub, or only what `codemode.search` found).

May import: `errors`, `shared`, `config`, `schema`, `hub` (a server's state, for its tool list).
"""
