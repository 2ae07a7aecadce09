"""Small pieces every layer shares: run ids (`ids`), the decoded size of base64 data (`b64`),
reading a pipe in small chunks (`pipes`).

Standard library only, and nothing of codemode but `errors`: the sandbox's worker imports
some of these on every start, so each module here must stay cheap to import.
"""
