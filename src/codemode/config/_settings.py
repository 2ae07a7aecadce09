"""`Config`: the servers to connect and the session's limits, and the file's `codemode` settings.

`Config` is what every layer reads; `_Settings` is the optional top-level `codemode` object
of a file, in the file's camelCase, which `parse_config` copies into a `Config`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, field_validator

from codemode.config._servers import ServerConfig, _Model, _TaggedServer

# Long enough for a slow search or a cold API; short enough that a stuck server does not hold
# a notebook cell for minutes. A server's own `timeout` overrides it.
DEFAULT_CALL_TIMEOUT = 60.0
# A cell usually makes several calls, some in sequence: two default calls' worth.
DEFAULT_CELL_TIMEOUT = 120.0
# Long enough to read a call's arguments and answer; shorter than a default cell, whose wall
# clock keeps running while the person decides.
DEFAULT_APPROVAL_TIMEOUT = 60.0


class RateTier(_Model):
    """One tier of `codemode.rateLimit`: a bearer token `codemode serve` also accepts, and its
    own limits per minute (unset: the defaults of `rateLimit`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    token: str = Field(repr=False, description="The tier's bearer token, 16 characters or more (write ${VAR}).")
    executes_per_minute: int | None = Field(None, gt=0, alias="executesPerMinute")
    tool_calls_per_minute: int | None = Field(None, gt=0, alias="toolCallsPerMinute")


class RateLimit(_Model):
    """`codemode.rateLimit`: `execute` calls and tool calls per minute, per bearer token, for
    `codemode serve`; a request past them is refused with RATE_LIMITED and a retry-after."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    executes_per_minute: int | None = Field(None, gt=0, alias="executesPerMinute")
    tool_calls_per_minute: int | None = Field(None, gt=0, alias="toolCallsPerMinute")
    tiers: tuple[RateTier, ...] = Field(())


class Config(_Model):
    """The servers to connect and the session's default limits."""

    servers: dict[str, _TaggedServer] = Field(description="The servers by name, in file order.")
    broken: dict[str, str] = Field(
        default_factory=dict,
        description="Entries that cannot be used, by name, with the problem: they fail alone.",
    )
    source: str | None = Field(
        None, description="The file this came from; None for the built-in demo."
    )
    call_timeout: float = Field(
        DEFAULT_CALL_TIMEOUT, gt=0, description="Default seconds per tool call (`callTimeout`)."
    )
    cell_timeout: float = Field(
        DEFAULT_CELL_TIMEOUT, gt=0, description="Default seconds per cell (`cellTimeout`)."
    )
    memory_mb: int | None = Field(
        4096, gt=0, description="Heap the worker may allocate, in MiB (`memoryMb`); null: no limit."
    )
    allow_subprocess: bool = Field(
        False, description="Let cell code start processes (`allowSubprocess`); off by default."
    )
    disk_mb: int | None = Field(
        1024, gt=0, description="Total size of the worker's work dir, in MiB (`diskMb`); null: no limit."
    )
    require: tuple[Literal["landlock", "seccomp"], ...] = Field(
        (), description="Isolation layers the worker must have, or refuse to run (`require`)."
    )
    max_tool_calls: int | None = Field(
        None, gt=0, description="The most tool calls one run may make (`maxToolCalls`); null: no cap."
    )
    max_output: int | None = Field(
        None, gt=0, description="Characters of stdout (and of stderr) a run keeps (`maxOutput`)."
    )
    tools: tuple[str, ...] | None = Field(
        None, description="Allow-list of `server.tool` patterns, shell wildcards (`tools`); null: all."
    )
    workdir: str | None = Field(
        None, description="A directory the worker uses as its read-write work dir (`workdir`)."
    )
    allow_read: tuple[str, ...] = Field(
        (), description="Extra paths the worker may read, read-only (`allowRead`)."
    )
    cassette: str | None = Field(
        None, description="A cassette file of tool lists and calls (`cassette`), relative to the config."
    )
    cassette_mode: Literal["record", "replay", "auto"] | None = Field(
        None, description="`cassetteMode`: record, replay, or auto (replay what is recorded, record the "
        "rest); replay when only `cassette` is set."
    )
    redact: tuple[str, ...] = Field(
        (), description="Regular expressions replaced before a cassette or an audit line is written "
        "(`redact`); the values `${VAR}` references expanded to are always replaced."
    )
    approve: Literal["destructive", "all", "none"] | tuple[str, ...] = Field(
        "destructive",
        description="Which calls need a person's yes (`approve`): 'destructive' (MCP annotations, "
        "with the spec's defaults), 'all', 'none', or a list of `server.tool` patterns.",
    )
    preapproved: tuple[str, ...] = Field(
        (), description="`server.tool` patterns that never ask (`preapproved`)."
    )
    elicit: Literal["ask", "decline", "defaults"] = Field(
        "ask", description="A server's questions during a call (elicitation): 'ask' a person on the face that "
                           "runs the code (declined with nobody to ask), 'decline' them all, or accept a form "
                           "with its 'defaults' when every required field has one (`elicit`).")
    approval_timeout: float = Field(
        DEFAULT_APPROVAL_TIMEOUT, gt=0,
        description="Seconds to wait for an answer before the call is refused (`approvalTimeout`).",
    )
    audit: str | Literal[False] | None = Field(
        None, description="A JSON Lines audit file (`audit`); false: off; null: the face's default "
        "(on for `codemode serve`, under the user's state directory; off elsewhere).",
    )
    audit_arguments: bool = Field(
        False, description="Write the calls' arguments, redacted, to the audit file (`auditArguments`)."
    )
    secrets: tuple[str, ...] = Field(
        (), repr=False, exclude=True,
        description="Values that came from `${VAR}` expansion: redacted like `redact` matches.",
    )
    # `codemode serve`: its client sessions, warm workers and per-session limits.
    session_idle: float = Field(
        900.0, gt=0, description="Seconds a served client session may idle before its worker is reclaimed (`sessionIdle`)."
    )
    pool_size: int = Field(2, ge=0, description="Warm workers `codemode serve` keeps for new sessions (`poolSize`).")
    max_executes: int | None = Field(
        None, gt=0, description="The most `execute` calls one served session may make (`maxExecutes`); null: no cap."
    )
    max_session_tool_calls: int | None = Field(
        None, gt=0, description="The most tool calls one served session may make (`maxSessionToolCalls`); null: no cap."
    )
    max_code_chars: int = Field(
        100_000, gt=0, description="The longest code an `execute` call may send, in characters (`maxCodeChars`)."
    )
    max_sessions: int | None = Field(
        None, gt=0, description="Served sessions that may hold a worker at once (`maxSessions`); null: no cap."
    )
    show_tokens: bool = Field(
        True, description="Token accounts in view (`showTokens`): each `codemode serve` result ends with "
        "its session's token line, and a run report's token bars are unfolded; false leaves the line "
        "out and folds the bars under a `tokens` line that opens on a click.",
    )
    rate_limit: RateLimit | None = Field(
        None, description="Executes and tool calls per minute per token for `codemode serve` (`rateLimit`)."
    )

    @field_validator("servers")
    @classmethod
    def _names_not_empty(cls, value: dict[str, ServerConfig]) -> dict[str, ServerConfig]:
        if any(not name.strip() for name in value):
            raise ValueError("a server name is empty")
        return value

    def enabled(self) -> dict[str, ServerConfig]:
        """The servers that are not `disabled`, in file order."""
        return {name: server for name, server in self.servers.items() if not server.disabled}


class _Settings(_Model):
    """The optional top-level `codemode` object of a config file."""

    call_timeout: float = Field(DEFAULT_CALL_TIMEOUT, gt=0, alias="callTimeout")
    cell_timeout: float = Field(DEFAULT_CELL_TIMEOUT, gt=0, alias="cellTimeout")
    memory_mb: int | None = Field(4096, gt=0, alias="memoryMb")
    allow_subprocess: bool = Field(False, alias="allowSubprocess")
    disk_mb: int | None = Field(1024, gt=0, alias="diskMb")
    require: tuple[Literal["landlock", "seccomp"], ...] = Field((), alias="require")
    max_tool_calls: int | None = Field(None, gt=0, alias="maxToolCalls")
    max_output: int | None = Field(None, gt=0, alias="maxOutput")
    tools: tuple[str, ...] | None = Field(None, alias="tools")
    workdir: str | None = Field(None, alias="workdir")
    allow_read: tuple[str, ...] = Field((), alias="allowRead")
    cassette: str | None = Field(None, alias="cassette")
    cassette_mode: Literal["record", "replay", "auto"] | None = Field(None, alias="cassetteMode")
    redact: tuple[str, ...] = Field((), alias="redact")
    session_idle: float = Field(900.0, gt=0, alias="sessionIdle")
    pool_size: int = Field(2, ge=0, alias="poolSize")
    max_executes: int | None = Field(None, gt=0, alias="maxExecutes")
    max_session_tool_calls: int | None = Field(None, gt=0, alias="maxSessionToolCalls")
    max_code_chars: int = Field(100_000, gt=0, alias="maxCodeChars")
    max_sessions: int | None = Field(None, gt=0, alias="maxSessions")
    show_tokens: bool = Field(True, alias="showTokens")
    rate_limit: RateLimit | None = Field(None, alias="rateLimit")
    approve: Literal["destructive", "all", "none"] | tuple[str, ...] = Field("destructive", alias="approve")
    preapproved: tuple[str, ...] = Field((), alias="preapproved")
    approval_timeout: float = Field(DEFAULT_APPROVAL_TIMEOUT, gt=0, alias="approvalTimeout")
    elicit: Literal["ask", "decline", "defaults"] = Field("ask", alias="elicit")
    audit: str | Literal[False] | None = Field(None, alias="audit")
    audit_arguments: bool = Field(False, alias="auditArguments")

