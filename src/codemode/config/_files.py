"""Finding and reading the config file: the search order, JSONC, and `load_config`.

Search order when no path is given (the package docstring has the whole story):
`$CODEMODE_CONFIG`, `./mcp.json`, `$XDG_CONFIG_HOME/codemode/mcp.json`, else the demo.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from codemode.config._demo import demo_config
from codemode.config._parse import parse_config
from codemode.config._settings import Config
from codemode.config._variables import _expand_user, _home
from codemode.errors import ConfigError

CONFIG_ENV_VAR = "CODEMODE_CONFIG"
CONFIG_FILE_NAME = "mcp.json"


def find_config_file(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Path | None:
    """The config file `load_config` would read, following the search order of this module.

    Args:
        path: An explicit file; relative paths are taken from `cwd`.
        environ: The environment to read `CODEMODE_CONFIG`, `XDG_CONFIG_HOME` and `HOME` from
            (default `os.environ`).
        cwd: The working directory for `./mcp.json` (default the process's).

    Returns:
        The path, or None when no file is found (then the demo config applies).

    Raises:
        ConfigError: `path` or `$CODEMODE_CONFIG` names a file that does not exist.
    """
    env = os.environ if environ is None else environ
    base = Path.cwd() if cwd is None else Path(cwd)
    if path is not None:
        explicit = _resolve(os.fspath(path), base, env)
        return _existing_file(explicit, "create it or pass another path")
    named = env.get(CONFIG_ENV_VAR)
    if named:
        advice = f"it is named by ${CONFIG_ENV_VAR}; create it or unset the variable"
        return _existing_file(_resolve(named, base, env), advice)
    for candidate in (base / CONFIG_FILE_NAME, _user_config_dir(env) / CONFIG_FILE_NAME):
        if candidate.is_file():
            return candidate
    return None


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Config:
    """Find, read and validate the config; the demo config when there is no file.

    Args:
        path: An explicit file, searched for as this module's docstring says when None.
        environ: The environment for the search and for `${VAR}` (default `os.environ`).
        cwd: The working directory for `./mcp.json` and a relative `path`.

    Returns:
        The config, with `source` naming the file read (None for the demo).

    Raises:
        ConfigError: The file is missing (when named), unreadable, not JSON, or invalid.
    """
    env = os.environ if environ is None else environ
    found = find_config_file(path, environ=env, cwd=cwd)
    if found is None:
        return demo_config()
    return parse_config(_read_json(found), source=str(found), environ=env)


def _resolve(text: str, base: Path, environ: Mapping[str, str]) -> Path:
    return base / _expand_user(text, environ)


def _existing_file(path: Path, advice: str) -> Path:
    if not path.is_file():
        problem = "is a directory, not a file" if path.is_dir() else "no such file"
        raise ConfigError(f"{problem}; {advice}", path=str(path))
    return path


def _user_config_dir(environ: Mapping[str, str]) -> Path:
    xdg = environ.get("XDG_CONFIG_HOME", "")
    # The XDG spec says to ignore a relative value.
    base = Path(xdg) if os.path.isabs(xdg) else Path(_home(environ)) / ".config"
    return base / "codemode"


def _read_json(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: Windows editors write a BOM
    except UnicodeDecodeError as exc:
        raise ConfigError("the file is not UTF-8 text", path=str(path)) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {exc.strerror or exc}", path=str(path)) from exc
    try:
        return json.loads(_blank_jsonc(text))
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", path=str(path)
        ) from exc


def _blank_jsonc(text: str) -> str:
    """Blank out comments and trailing commas (VS Code's JSONC), keeping every line and column."""
    out = list(text)
    i, n, comma = 0, len(text), -1
    while i < n:
        if text[i] == '"':
            comma, i = -1, _string_end(text, i)
            continue
        end = _comment_end(text, i)
        if end is not None:
            out[i:end] = [c if c == "\n" else " " for c in text[i:end]]
            i = end
            continue
        if text[i] in "}]" and comma >= 0:
            out[comma] = " "
        if text[i] == ",":
            comma = i
        elif not text[i].isspace():
            comma = -1
        i += 1
    return "".join(out)


def _comment_end(text: str, start: int) -> int | None:
    """The index just past the comment that opens at `start`, or None if none opens there."""
    if text.startswith("//", start):
        end = text.find("\n", start)
        return len(text) if end < 0 else end
    if text.startswith("/*", start):
        end = text.find("*/", start + 2)
        return None if end < 0 else end + 2  # an unclosed /* stays, for json to report
    return None


def _string_end(text: str, start: int) -> int:
    """The index just past the JSON string that opens at `start`."""
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text[i] == '"':
            return i + 1
        else:
            i += 1
    return len(text)
