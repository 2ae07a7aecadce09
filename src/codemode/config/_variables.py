"""`${VAR}` and `~` in a server entry, as the shell and VS Code expand them.

`${NAME}`, `${NAME:-default}`, VS Code's `${env:NAME}`, `${workspaceFolder}`, `${userHome}`
and `${pathSeparator}`; `$$` is a literal `$`; a missing variable with no default is a
`ConfigError` naming it. What each variable expanded to (a default too) is collected as a
secret, for the redactor of audit files and cassettes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from codemode.errors import ConfigError

MIN_SECRET_CHARS = 4

# `$$`, or `${...}`, or a `${` that is never closed (group 1 is None then).
_REFERENCE = re.compile(r"\$(?:\$|\{([^}]*)\}|\{)")
_VARIABLE = re.compile(r"(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.DOTALL)


def _expand_server(
    raw: Mapping[str, object],
    environ: Mapping[str, str],
    source: str | None,
    server: str,
    secrets: list[str] | None = None,
) -> dict[str, object]:
    """A copy of a server's raw entry with variables and `~` expanded where the format allows;
    what the variables expanded to is added to `secrets`."""

    def expand(value: object, field: str) -> object:
        if not isinstance(value, str):
            return value  # a wrong type is left for pydantic to report
        return _expand(value, environ, path=source, server=server, field=field, secrets=secrets)

    out = dict(raw)
    for key in ("command", "cwd", "url"):
        if key in out:
            out[key] = expand(out[key], key)
    args = out.get("args")
    if isinstance(args, list):
        out["args"] = [expand(item, f"args.{i}") for i, item in enumerate(args)]
    for key in ("env", "headers"):
        table = out.get(key)
        if isinstance(table, Mapping):
            out[key] = {k: expand(v, f"{key}.{k}") for k, v in table.items()}
    oauth = out.get("oauth")
    if isinstance(oauth, Mapping):
        out["oauth"] = {k: expand(v, f"oauth.{k}") for k, v in oauth.items()}
    for key in ("command", "cwd"):
        value = out.get(key)
        if isinstance(value, str):
            out[key] = _expand_user(value, environ)
    return out


def _expand(
    text: str,
    environ: Mapping[str, str],
    *,
    path: str | None,
    server: str | None,
    field: str,
    secrets: list[str] | None = None,
) -> str:
    """`text` with `${NAME}`, `${NAME:-default}` and `$$` replaced (see the module docstring)."""

    def fail(problem: str) -> ConfigError:
        return ConfigError(problem, path=path, server=server, field=field)

    predefined = _predefined(path, environ)

    def replace(match: re.Match[str]) -> str:
        token, body = match.group(0), match.group(1)
        if token == "$$":
            return "$"
        if body is None:
            raise fail("'${' is not closed; write ${NAME}, or $$ for a literal '$'")
        if body in predefined:
            return predefined[body]
        ref = _VARIABLE.fullmatch(body)
        if ref is None:
            if body.startswith("input:"):
                raise fail(
                    f"VS Code input prompts ({token}) cannot be answered here; "
                    "put the value in an environment variable and write ${NAME} instead"
                )
            raise fail(
                f"{token!r} is not a variable; write ${{NAME}} or ${{NAME:-default}}, or $$ for '$'"
            )
        name, default = ref.groups()
        value = environ.get(name)
        if default is not None and not value:
            value = default
        if value is None:
            raise fail(
                f"environment variable {name} is not set; set it, "
                f"or write ${{{name}:-default}} to give a default"
            )
        # What a variable expanded to may be a token (a default too): audit files and cassettes
        # redact it. Shorter ones would blank out every matching digit or word and protect nothing.
        if secrets is not None and len(value) >= MIN_SECRET_CHARS:
            secrets.append(value)
        return value

    return _REFERENCE.sub(replace, text)


def _predefined(path: str | None, environ: Mapping[str, str]) -> dict[str, str]:
    """VS Code's predefined variables that mean something outside the editor.

    `${workspaceFolder}` is the folder that holds `.vscode/mcp.json` (or the config file's
    own folder); `${userHome}` is the home directory; `${pathSeparator}` is `/` or `\\`.
    """
    found = {"userHome": _home(environ), "pathSeparator": os.sep, "/": os.sep}
    if path is not None:
        folder = Path(path).resolve().parent
        if folder.name == ".vscode":
            folder = folder.parent
        found["workspaceFolder"] = str(folder)
        found["workspaceFolderBasename"] = folder.name
    return found


def _expand_user(text: str, environ: Mapping[str, str]) -> str:
    if text == "~" or text.startswith(("~/", "~" + os.sep)):
        return _home(environ) + text[1:]
    if text.startswith("~"):
        return os.path.expanduser(text)  # ~user/...
    return text


def _home(environ: Mapping[str, str]) -> str:
    return environ.get("HOME") or str(Path.home())
