"""The token account: what a run cost in code mode against what classic tool calling would.

The model, per run (`account`):

- classic tool calling = definitions + Σ arguments + Σ results: the compact wire JSON of every
  loaded tool definition (a classic client puts all of them in the model's context), then the
  compact JSON of each call's arguments (the model writes them) and of each result (the model
  reads it);
- code mode = surface + code + output: the API text the model read to write the code (the
  stubs, or only the search results it asked for), the code itself, and what the run handed
  back (printed text and result).

Per-call envelopes (the tool-use and tool-result framing a provider wraps around each call,
the model's turn boundaries, the system prompt) are ignored on both sides: they would only
widen the gap, since classic tool calling pays them once per call and code mode once per run.

Invariants:
- Nothing here downloads anything. The exact tokenizer is o200k_base from the optional
  `bpe-openai` package, which ships its tables; without it the count is a labelled estimate
  (characters / 4, which over-counts compact tool JSON by about 11% against o200k). An
  account always names the tokenizer that produced it, and only accounts of one tokenizer add.
- Counting never fails on text: special-token spellings such as `<|endoftext|>` count as
  ordinary text, and lone surrogates count as replacement characters.
- The BPE loads lazily (on the first count, or in `default_tokenizer()`) and once per process.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "BpeTokenizer",
    "EstimateTokenizer",
    "TokenAccount",
    "Tokenizer",
    "account",
    "bar",
    "default_tokenizer",
]

#: The keys of `TokenAccount.classic` and `TokenAccount.code_mode`, in their stable order.
CLASSIC_KEYS = ("definitions", "arguments", "results")
CODE_MODE_KEYS = ("surface", "code", "output")

#: The encoding of current OpenAI models; no Claude tokenizer is public (NOTES-mcp.md).
ENCODING = "o200k_base"

#: Characters per `encode_ordinary` call on the fallback path: bpe-openai's Python wrapper
#: refuses texts of 1,000,000 characters and results over 200,000 tokens, and a character is
#: at most 4 tokens (one per UTF-8 byte), so 50,000 stays under both.
_PUBLIC_CHUNK = 50_000


class Tokenizer(Protocol):
    """Counts the tokens of a text. The seam the session's accountant is built on."""

    name: str
    """Which tokenizer, as a report shows it: "o200k_base (bpe-openai)"."""
    exact: bool
    """True for a real tokenizer, False for an estimate."""

    def count(self, text: str) -> int:
        """The number of tokens in `text`; never raises for any `str`."""
        ...


class EstimateTokenizer:
    """ceil(characters / 4): the usual rule of thumb, for when no BPE is installed."""

    name = "estimate: characters / 4"
    exact = False

    def count(self, text: str) -> int:
        return -(-len(text) // 4)


class BpeTokenizer:
    """o200k_base through `bpe-openai`, loaded on first use and shared by the whole process."""

    name = f"{ENCODING} (bpe-openai)"
    exact = True

    def load(self) -> None:
        """Load the encoding now instead of on the first count.

        Raises:
            ImportError: `bpe-openai` is missing or does not load.
        """
        _o200k()

    def count(self, text: str) -> int:
        """The o200k_base token count of `text`, special-token spellings counted as text.

        Raises:
            ImportError: `bpe-openai` is missing or does not load.
        """
        if not text:
            return 0
        counter = _o200k()
        try:
            return counter(text)
        except UnicodeEncodeError:  # lone surrogates (from `surrogateescape`d bytes, say)
            return counter(text.encode("utf-16", "surrogatepass").decode("utf-16", "replace"))


def default_tokenizer() -> Tokenizer:
    """The o200k_base BPE when `bpe-openai` loads, else the characters / 4 estimate."""
    try:
        _o200k()
    except ImportError:
        return EstimateTokenizer()
    return BpeTokenizer()


_lock = threading.Lock()
_counter: Callable[[str], int] | None = None
_failure: tuple[str, Exception] | None = None  # why loading failed: tried once per process


def _o200k() -> Callable[[str], int]:
    """The process-wide o200k_base counting function, loaded on the first call.

    Raises:
        ImportError: `bpe-openai` is missing or does not load (every call, after one try).
    """
    global _counter, _failure
    if _counter is not None:  # loaded: no lock needed to read a reference
        return _counter
    with _lock:
        if _counter is None and _failure is None:
            try:
                _counter = _load_native()
            except Exception as native_exc:  # boundary: an optional native extension
                try:
                    _counter = _load_public()
                except Exception as exc:  # boundary: the same package, through its public API
                    _failure = (f"the o200k_base tokenizer did not load ({exc}; {native_exc}): "
                                "pip install bpe-openai, or count with EstimateTokenizer()", exc)
        if _counter is None:
            assert _failure is not None
            message, cause = _failure
            raise ImportError(message) from cause
        return _counter


def _load_native() -> Callable[[str], int]:
    """The Rust tokenizer's own `count` (no token list), loaded without `bpe_openai/__init__`.

    Importing the `bpe_openai` package decodes the Python rank tables of every encoding it
    knows (about a second); the Rust extension it wraps embeds its own tables and builds
    o200k_base in about a tenth of that. Its module is registered under its real name, so a
    later `import bpe_openai` reuses it instead of initialising the extension twice.
    """
    from importlib.machinery import EXTENSION_SUFFIXES, ExtensionFileLoader
    from importlib.util import find_spec, module_from_spec, spec_from_file_location

    module_name = "bpe_openai._bindings"
    bindings = sys.modules.get(module_name)
    if bindings is None:
        package = find_spec("bpe_openai")  # locates the package without running it
        folders = package.submodule_search_locations if package is not None else None
        paths = [os.path.join(folder, "_bindings" + suffix)
                 for folder in folders or () for suffix in EXTENSION_SUFFIXES]
        path = next((p for p in paths if os.path.isfile(p)), None)
        if path is None:
            raise ImportError("bpe_openai and its _bindings extension are not installed")
        loader = ExtensionFileLoader(module_name, path)
        spec = spec_from_file_location(module_name, path, loader=loader)
        assert spec is not None
        bindings = module_from_spec(spec)
        loader.exec_module(bindings)
        sys.modules[module_name] = bindings
    count: Callable[[str], int] = bindings.tokenizer_for_encoding(ENCODING).count
    return count


def _load_public() -> Callable[[str], int]:
    """`len(encode_ordinary(...))` through the package's public API, in chunks.

    `encode_ordinary` treats special-token spellings as text (`encode` would raise on them).
    Chunk seams may split a word, which adds at most a token per 50,000 characters.
    """
    import warnings

    with warnings.catch_warnings():  # bpe-openai 0.1 reads its tables with a deprecated API
        warnings.simplefilter("ignore", DeprecationWarning)
        import bpe_openai  # type: ignore[import-untyped]

        encoding: Any = bpe_openai.get_encoding(ENCODING)

    def count(text: str) -> int:
        return sum(len(encoding.encode_ordinary(text[start:start + _PUBLIC_CHUNK]))
                   for start in range(0, len(text), _PUBLIC_CHUNK))

    return count


@dataclass(frozen=True)
class TokenAccount:
    """One run's (or a session's) tokens, classic tool calling against code mode."""

    tokenizer: str
    """The name of the tokenizer that counted, e.g. "o200k_base (bpe-openai)"."""
    exact: bool
    """False when the counts are an estimate."""
    classic: dict[str, int]
    """Classic tool calling: `definitions`, `arguments`, `results`."""
    code_mode: dict[str, int]
    """Code mode: `surface`, `code`, `output`."""

    def __post_init__(self) -> None:
        for field, keys in (("classic", CLASSIC_KEYS), ("code_mode", CODE_MODE_KEYS)):
            counts = getattr(self, field)
            if tuple(counts) == keys and all(type(value) is int for value in counts.values()):
                continue  # as made here: in order, whole numbers (one account a run, and the total)
            if set(counts) != set(keys):
                raise ValueError(f"TokenAccount.{field} needs exactly the keys {', '.join(keys)}; "
                                 f"got {', '.join(sorted(counts)) or 'none'}")
            object.__setattr__(self, field, {key: int(counts[key]) for key in keys})  # stable order

    @property
    def classic_total(self) -> int:
        return sum(self.classic.values())

    @property
    def code_mode_total(self) -> int:
        return sum(self.code_mode.values())

    @property
    def ratio(self) -> float:
        """classic / code mode: how many times fewer tokens code mode took; 0.0 if it took none."""
        code_mode = self.code_mode_total
        return self.classic_total / code_mode if code_mode else 0.0

    @property
    def saved(self) -> int:
        """classic − code mode; negative when code mode cost more."""
        return self.classic_total - self.code_mode_total

    def __add__(self, other: object) -> TokenAccount:
        """The sum of two accounts of one tokenizer (a session's total).

        Raises:
            ValueError: the accounts were counted by different tokenizers.
        """
        if not isinstance(other, TokenAccount):
            return NotImplemented
        if other.tokenizer != self.tokenizer:
            raise ValueError(f"cannot add token accounts of {self.tokenizer!r} and {other.tokenizer!r}; "
                             "count every run with one tokenizer")
        return TokenAccount(
            tokenizer=self.tokenizer,
            exact=self.exact and other.exact,
            classic={key: self.classic[key] + other.classic[key] for key in CLASSIC_KEYS},
            code_mode={key: self.code_mode[key] + other.code_mode[key] for key in CODE_MODE_KEYS},
        )

    def __radd__(self, other: object) -> TokenAccount:
        """`0 + account`, so `sum(accounts)` works."""
        if isinstance(other, int) and other == 0:
            return self
        return NotImplemented

    def to_json(self) -> dict[str, Any]:
        """The account as plain JSON values, keys in a stable order, totals included."""
        return {
            "tokenizer": self.tokenizer,
            "exact": self.exact,
            "classic": dict(self.classic),
            "code_mode": dict(self.code_mode),
            "classic_total": self.classic_total,
            "code_mode_total": self.code_mode_total,
            "ratio": self.ratio,
            "saved": self.saved,
        }


def account(
    tokenizer: Tokenizer,
    *,
    definitions: str,
    arguments: Sequence[str],
    results: Sequence[str],
    surface: str,
    code: str,
    output: str,
) -> TokenAccount:
    """Count one run both ways (the model is in this module's docstring).

    Args:
        tokenizer: what counts.
        definitions: the compact wire JSON of every loaded tool definition.
        arguments: the compact JSON of each call's arguments.
        results: the compact JSON of each call's result.
        surface: the API text the model read to write the code (stubs or search results).
        code: the code.
        output: the printed text and the result, as handed back.
    """
    count = tokenizer.count
    return TokenAccount(
        tokenizer=tokenizer.name,
        exact=tokenizer.exact,
        classic={
            "definitions": count(definitions),
            "arguments": sum(count(text) for text in arguments),
            "results": sum(count(text) for text in results),
        },
        code_mode={"surface": count(surface), "code": count(code), "output": count(output)},
    )


_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(tokens: TokenAccount, width: int = 30) -> str:
    """Two text lines comparing the totals, the larger one `width` cells long.

    ```
    classic   ██████████████████████████████ 12,345
    code mode ███ 1,234   (10.0× fewer)
    ```
    """
    if width < 1:
        raise ValueError(f"bar width must be at least 1, not {width}")
    classic, code_mode = tokens.classic_total, tokens.code_mode_total
    top = max(classic, code_mode, 1)
    if code_mode and classic >= code_mode:
        verdict = f"{tokens.ratio:.1f}× fewer"
    elif code_mode:
        verdict = f"{code_mode - classic:,} more"
    else:
        verdict = f"{classic:,} fewer" if classic else "nothing counted"
    return (f"classic   {_blocks(classic, top, width)} {classic:,}\n"
            f"code mode {_blocks(code_mode, top, width)} {code_mode:,}   ({verdict})")


def _blocks(value: int, top: int, width: int) -> str:
    """`value` of `top` as block characters in eighths of a cell; a non-zero value shows."""
    eighths = max(round(8 * width * value / top), 1 if value else 0)
    full, rest = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[rest] if rest else "")
