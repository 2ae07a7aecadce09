"""What a worker is started with: memory, subprocesses, work dir, extra read paths, required
layers and disk, from a config's defaults and a cell's or a command line's flags."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from codemode.config import Config
from codemode.errors import CodemodeError


@dataclass(frozen=True)
class SandboxOptions:
    """What a worker is started with. A run that asks for other options than the running
    worker has gets a fresh worker (its report says so: the variables are gone).

    Args:
        memory_mb: heap the worker may allocate (RLIMIT_DATA), in MiB; None for no limit.
        allow_subprocess: let cell code start processes (seccomp and Landlock allow exec).
        workdir: the worker's read-write work directory; a private temporary one by default.
        allow_read: extra paths the worker may read (read-only).
        require: isolation layers the worker must have ("landlock", "seccomp"), or refuse to run.
        disk_mb: the total size of the work dir, in MiB (DISK past it); None for no limit.
    """

    memory_mb: int | None = 4096
    allow_subprocess: bool = False
    workdir: Path | None = None
    allow_read: tuple[Path, ...] = ()
    require: tuple[str, ...] = ()
    disk_mb: int | None = 1024

    @classmethod
    def of(cls, config: Config) -> SandboxOptions:
        """The session defaults of a config; its relative paths are relative to its file."""
        base = Path(config.source).parent if config.source else Path.cwd()
        return cls(memory_mb=config.memory_mb, allow_subprocess=config.allow_subprocess,
                   workdir=_path(config.workdir, base, "workdir") if config.workdir else None,
                   allow_read=tuple(_path(p, base, "allowRead") for p in config.allow_read),
                   require=tuple(config.require), disk_mb=config.disk_mb)

    def with_flags(self, *, memory: str | None = None, allow_subprocess: bool = False, workdir: str | None = None,
                   allow_read: Iterable[str] = (), require: str | None = None,
                   disk: str | None = None) -> SandboxOptions:
        """These options with a cell's or a command line's flags applied (paths relative to
        the current directory); None and empty flags keep what is set."""
        if memory is None and not allow_subprocess and not workdir and not allow_read and not require and disk is None:
            return self  # most cells give no flag (the options are frozen: sharing them is safe)
        layers = tuple(layer.strip() for layer in (require or "").split(",") if layer.strip())
        unknown = [layer for layer in layers if layer not in ("landlock", "seccomp")]
        if unknown:
            raise CodemodeError(f"--require: unknown layer {unknown[0]!r}; the layers are landlock, seccomp")
        cwd = Path.cwd() if workdir or allow_read else Path()  # a system call only when a path needs it
        extra = tuple(_path(path, cwd, "--allow-read") for path in allow_read)
        return SandboxOptions(
            memory_mb=parse_memory(memory) if memory is not None else self.memory_mb,
            allow_subprocess=self.allow_subprocess or allow_subprocess,
            workdir=_path(workdir, cwd, "workdir") if workdir else self.workdir,
            allow_read=tuple(dict.fromkeys(self.allow_read + extra)),
            require=tuple(dict.fromkeys(self.require + layers)),
            disk_mb=parse_memory(disk, "--disk", minimum=1) if disk is not None else self.disk_mb,
        )

    def changes(self, before: SandboxOptions) -> str:
        """What differs from `before`, for the report: `memory 4096 → 512 MiB`."""
        def show(value: object) -> str:
            if isinstance(value, tuple):
                return ", ".join(map(str, value)) or "none"
            return "none" if value is None else str(value)

        parts = []
        for name, label in (("memory_mb", "memory (MiB)"), ("allow_subprocess", "subprocesses"),
                            ("workdir", "work dir"), ("allow_read", "extra read paths"),
                            ("require", "required layers"), ("disk_mb", "disk (MiB)")):
            old, new = getattr(before, name), getattr(self, name)
            if old != new:
                parts.append(f"{label} {show(old)} → {show(new)}")
        return "; ".join(parts)


_UNITS = {"": 1, "m": 1, "mb": 1, "mib": 1, "g": 1024, "gb": 1024, "gib": 1024}


def parse_memory(text: str, option: str = "--memory", minimum: int = 64) -> int | None:
    """MiB from `512`, `512M`, `2G` or `2GiB`; None from `none` (no limit)."""
    value = text.strip().lower()
    if value in ("none", "0"):
        return None
    number = value.rstrip("abgimk")
    unit = value[len(number):]
    try:
        amount = float(number)
    except ValueError:
        amount = -1.0
    if unit not in _UNITS or amount <= 0:
        raise CodemodeError(f"{option}: {text!r} is not a size; write MiB as 512, 512M or 2G (or none)")
    mib = int(amount * _UNITS[unit])
    if mib < minimum:
        why = "too little for Python to start" if option == "--memory" else "too small"
        raise CodemodeError(f"{option}: {text} is {why}; give at least {minimum}M")
    return mib


def _path(value: str | Path, base: Path, option: str) -> Path:
    path = Path(value).expanduser()
    path = (base / path if not path.is_absolute() else path).resolve()
    if not path.exists():
        raise CodemodeError(f"{option}: {path} does not exist; give a path that does")
    if option == "workdir" and not path.is_dir():
        raise CodemodeError(f"workdir: {path} is not a directory")
    return path
