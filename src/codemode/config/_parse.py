"""Validating the loaded JSON into a `Config`, with pydantic's errors mapped to `ConfigError`.

One unusable entry fails that server only (it goes to `Config.broken`); only a file with no
usable entry is an error. Every error names the file, the server and the dotted field, and
never shows a value that may be a secret.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from codemode.config._servers import (
    _BOTH_PROBLEM,
    _NEITHER_PROBLEM,
    HttpServer,
    ServerConfig,
    StdioServer,
    _dialect,
    _normalize,
    _server_kind,
)
from codemode.config._settings import Config, RateLimit, _Settings
from codemode.config._variables import _expand, _expand_server, _expand_user
from codemode.errors import ConfigError


def parse_config(
    data: object,
    *,
    source: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Validate already-loaded JSON in the file format into a `Config`.

    Args:
        data: The parsed file: an object with `mcpServers` (or `servers`) and maybe `codemode`.
        source: The file it came from, named in errors and kept as `Config.source`.
        environ: The environment for `${VAR}` (default `os.environ`).

    Returns:
        The config, variables expanded, with `source` as given.

    Raises:
        ConfigError: The data does not describe valid servers; it names the server and field.
    """
    env = os.environ if environ is None else environ
    if not isinstance(data, Mapping):
        problem = "the top level must be an object with 'mcpServers' (or 'servers')"
        raise ConfigError(f"{problem}, not {_json_type(data)}", path=source)
    table = _servers_table(data, source)
    settings = _parse_settings(data.get("codemode"), source)
    secrets: list[str] = []
    dialect = _dialect(table, source)
    servers: dict[str, ServerConfig] = {}
    broken: dict[str, str] = {}
    failures: list[ConfigError] = []
    for name, raw in table.items():
        try:
            servers[name] = _parse_server(name, _normalize(raw, dialect), source, env, secrets)
        except ConfigError as exc:  # one unusable entry fails that server only
            broken[name] = str(exc)
            failures.append(exc)
    if failures and not servers:  # nothing usable: the file is the problem, every entry of it
        if len(failures) == 1:
            raise failures[0]
        raise ConfigError(f"none of its {len(failures)} servers is usable: "
                          + "; ".join(_without_path(failure) for failure in failures), path=source)
    return Config(
        servers=servers,
        broken=broken,
        source=source,
        call_timeout=settings.call_timeout,
        cell_timeout=settings.cell_timeout,
        memory_mb=settings.memory_mb,
        allow_subprocess=settings.allow_subprocess,
        disk_mb=settings.disk_mb,
        require=settings.require,
        max_tool_calls=settings.max_tool_calls,
        max_output=settings.max_output,
        tools=settings.tools,
        workdir=settings.workdir,
        allow_read=settings.allow_read,
        cassette=settings.cassette,
        cassette_mode=settings.cassette_mode,
        redact=settings.redact,
        **{name: getattr(settings, name) for name in _SERVE_SETTINGS},
        approve=settings.approve,
        preapproved=settings.preapproved,
        approval_timeout=settings.approval_timeout,
        elicit=settings.elicit,
        audit=_expand_user(settings.audit, env) if settings.audit else settings.audit,
        audit_arguments=settings.audit_arguments,
        rate_limit=_expand_tiers(settings.rate_limit, env, source, secrets),
        secrets=tuple(sorted(set(secrets), key=len, reverse=True)),
    )


def _expand_tiers(limit: RateLimit | None, env: Mapping[str, str], source: str | None,
                  secrets: list[str]) -> RateLimit | None:
    """`rateLimit` with each tier's token expanded (`${VAR}`); every token is a secret."""
    if limit is None:
        return None
    tiers = []
    for index, tier in enumerate(limit.tiers):
        field = f"codemode.rateLimit.tiers.{index}.token"
        token = _expand(tier.token, env, path=source, server=None, field=field)
        if len(token) < 16:
            raise ConfigError("a tier's token must have 16 characters or more: make one with "
                              "`python -c \"import secrets; print(secrets.token_urlsafe(24))\"`", path=source, field=field)
        secrets.append(token)
        tiers.append(tier.model_copy(update={"token": token}))
    return limit.model_copy(update={"tiers": tuple(tiers)})


_SERVE_SETTINGS = ("session_idle", "pool_size", "max_executes", "max_session_tool_calls", "max_code_chars",
                   "max_sessions", "show_tokens")


def _servers_table(data: Mapping[str, object], source: str | None) -> Mapping[str, object]:
    keys = [key for key in ("mcpServers", "servers") if key in data]
    if not keys:
        raise ConfigError(
            "no 'mcpServers' (or 'servers') object; write "
            '{"mcpServers": {"NAME": {"command": "...", "args": [...]}}}',
            path=source,
        )
    if len(keys) > 1:
        raise ConfigError("has both 'mcpServers' and 'servers'; keep one", path=source)
    table = data[keys[0]]
    if not isinstance(table, Mapping):
        problem = f"must be an object of servers by name, not {_json_type(table)}"
        raise ConfigError(problem, path=source, field=keys[0])
    for name in table:
        if not isinstance(name, str) or not name.strip():
            raise ConfigError("a server has an empty name; give it one", path=source, field=keys[0])
    return table


def _parse_settings(raw: object, source: str | None) -> _Settings:
    if raw is None:
        return _Settings()
    if not isinstance(raw, Mapping):
        problem = f"must be an object, not {_json_type(raw)}"
        raise ConfigError(problem, path=source, field="codemode")
    try:
        return _Settings.model_validate(raw)
    except ValidationError as exc:
        raise _from_validation(exc, _Settings, path=source, server=None, prefix="codemode") from exc


def _parse_server(
    name: str, raw: object, source: str | None, environ: Mapping[str, str], secrets: list[str]
) -> ServerConfig:
    if not isinstance(raw, Mapping):
        problem = f"must be an object with 'command' or 'url', not {_json_type(raw)}"
        raise ConfigError(problem, path=source, server=name)
    kind = _server_kind(raw)
    if kind is None:
        problem = _BOTH_PROBLEM if "command" in raw else _NEITHER_PROBLEM
        raise ConfigError(problem, path=source, server=name)
    model: type[StdioServer] | type[HttpServer] = StdioServer if kind == "stdio" else HttpServer
    expanded = _expand_server(raw, environ, source, name, secrets)
    try:
        server = model.model_validate(expanded)
    except ValidationError as exc:
        raise _from_validation(exc, model, path=source, server=name) from exc
    if isinstance(server, HttpServer) and server.oauth is not None:
        # Sign-in secrets are redacted even when written out literally, not through `${VAR}`.
        oauth = server.oauth
        secrets.extend(value for value in (oauth.client_secret, oauth.private_key, oauth.id_token,
                                           oauth.idp_client_secret) if value)
    return server


def _without_path(error: ConfigError) -> str:
    """`server 'x', field 'command': problem`: an entry's error, in a list under its file."""
    where = [f"server {error.server!r}"] if error.server else []
    where += [f"field {error.field!r}"] if error.field else []
    return f"{', '.join(where)}: {error.problem}" if where else error.problem


def _from_validation(
    exc: ValidationError,
    model: type[BaseModel],
    *,
    path: str | None,
    server: str | None,
    prefix: str | None = None,
) -> ConfigError:
    """The first of pydantic's errors as a one-line ConfigError with a dotted field path."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = ".".join(str(part) for part in first["loc"])
    field = ".".join(part for part in (prefix, loc) if part) or None
    problem = _describe(first, model)
    if len(errors) > 1:
        more = len(errors) - 1
        problem += f" (and {more} more problem{'s' if more > 1 else ''})"
    return ConfigError(problem, path=path, server=server, field=field)


def _describe(error: Any, model: type[BaseModel]) -> str:
    kind: str = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        name = str(error["loc"][-1])
        model = _nested_model(model, error["loc"][:-1])
        known = [_spelling(field, info) for field, info in model.model_fields.items()]
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"the fields are {', '.join(known)}"
        return f"unknown field {name!r}; {hint}"
    if kind == "missing":
        return "this field is required"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    if kind == "literal_error" and isinstance(value, str):
        return f"{error['msg']}, not {value!r}"
    if kind.endswith("_type") or kind == "literal_error":
        # The kind of value only: the value itself may be a secret in the wrong field.
        return f"{error['msg']}, not {_json_type(value)}"
    return str(error["msg"])


def _nested_model(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel]:
    """The model an error's location points into (`oauth.x` is a field of `OAuthSettings`)."""
    for part in loc:
        info = next((info for field, info in model.model_fields.items()
                     if part in (field, _spelling(field, info))), None)
        inner = getattr(info, "annotation", None)
        for candidate in getattr(inner, "__args__", (inner,)):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                model = candidate
                break
        else:
            return model
    return model


def _spelling(field: str, info: Any) -> str:
    """A field as a file writes it: its alias, or its first validation alias (`clientId`)."""
    if info.alias:
        return str(info.alias)
    choices = getattr(info.validation_alias, "choices", None)
    return str(choices[0]) if choices else field


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__
