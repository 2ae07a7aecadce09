"""The token account: tokenizers, the two columns, sums and the text bar."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import codemode
from codemode.tokens import metrics
from codemode.tokens.metrics import (
    BpeTokenizer,
    EstimateTokenizer,
    TokenAccount,
    Tokenizer,
    account,
    bar,
    default_tokenizer,
)

# o200k_base counts, as tiktoken gives them.
O200K_COUNTS = {
    "hello world, code mode!": 6,
    "hello world": 2,
    '{"name":"list_orders","description":"List orders, newest first."}': 15,
    "def list_orders(*, status: str | None = None) -> list[Order]: ...": 19,
    "Grüße aus Köln — 日本語": 8,
    "": 0,
}


def _account(classic: tuple[int, int, int], code_mode: tuple[int, int, int], tokenizer: str = "t") -> TokenAccount:
    return TokenAccount(
        tokenizer=tokenizer,
        exact=True,
        classic=dict(zip(("definitions", "arguments", "results"), classic, strict=True)),
        code_mode=dict(zip(("surface", "code", "output"), code_mode, strict=True)),
    )


@pytest.mark.parametrize(("text", "expected"), O200K_COUNTS.items())
def test_the_bpe_tokenizer_counts_as_o200k_base_does(text: str, expected: int) -> None:
    assert BpeTokenizer().count(text) == expected


def test_the_bpe_tokenizer_counts_special_token_spellings_as_ordinary_text() -> None:
    tokenizer = BpeTokenizer()
    assert tokenizer.count("<|endoftext|>") == 7
    assert tokenizer.count("a <|endoftext|> b <|endofprompt|>") > 2


def test_the_bpe_tokenizer_counts_lone_surrogates_instead_of_failing() -> None:
    assert BpeTokenizer().count("x\udcffy") == 3


def test_the_bpe_tokenizer_is_labelled_exact_and_names_its_encoding() -> None:
    tokenizer: Tokenizer = BpeTokenizer()
    assert tokenizer.exact is True
    assert tokenizer.name == "o200k_base (bpe-openai)"


def test_the_native_and_public_bpe_paths_count_alike() -> None:
    public = metrics._load_public()  # the fallback when the extension cannot load directly
    native = metrics._o200k()
    texts = [*O200K_COUNTS, "a <|endoftext|> b", json.dumps({"k": list(range(40))}) * 3]
    assert [public(text) for text in texts] == [native(text) for text in texts]


def test_the_public_path_counts_texts_longer_than_its_chunk() -> None:
    text = "word " * 30_000  # 150,000 characters: three chunks
    assert metrics._load_public()(text) == pytest.approx(metrics._o200k()(text), abs=3)


def test_loading_the_bpe_does_not_import_the_bpe_openai_package() -> None:
    src = str(Path(codemode.__file__).parents[1])
    code = (f"import sys; sys.path.insert(0, {src!r}); from codemode.tokens.metrics import BpeTokenizer; "
            "n = BpeTokenizer().count('hello world'); print(n, 'bpe_openai' in sys.modules, "
            "'bpe_openai._bindings' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["2", "False", "True"]


def test_importing_metrics_loads_no_tokenizer() -> None:
    src = str(Path(codemode.__file__).parents[1])
    code = (f"import sys; sys.path.insert(0, {src!r}); import codemode.tokens.metrics; "
            "print(any('bpe' in m for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_estimate_is_characters_over_four_rounded_up_and_says_so() -> None:
    tokenizer: Tokenizer = EstimateTokenizer()
    assert [tokenizer.count(text) for text in ("", "a", "abcd", "abcde", "<|endoftext|>")] == [0, 1, 1, 2, 4]
    assert tokenizer.exact is False
    assert tokenizer.name == "estimate: characters / 4"


def test_the_default_tokenizer_is_the_bpe_when_bpe_openai_is_installed() -> None:
    tokenizer = default_tokenizer()
    assert isinstance(tokenizer, BpeTokenizer)
    assert tokenizer.exact


def test_the_default_tokenizer_falls_back_to_the_labelled_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> None:
        raise ModuleNotFoundError("No module named 'bpe_openai'")

    monkeypatch.setattr(metrics, "_counter", None)
    monkeypatch.setattr(metrics, "_failure", None)
    monkeypatch.setattr(metrics, "_load_native", missing)
    monkeypatch.setattr(metrics, "_load_public", missing)
    tokenizer = default_tokenizer()
    assert isinstance(tokenizer, EstimateTokenizer)
    with pytest.raises(ImportError, match="pip install bpe-openai"):
        BpeTokenizer().count("hello")


def test_an_account_counts_each_side_of_the_model() -> None:
    tokens = account(
        EstimateTokenizer(),
        definitions="d" * 400,
        arguments=["a" * 5, "a" * 8],  # 2 + 2: each call is counted on its own
        results=["r" * 40],
        surface="s" * 40,
        code="c" * 12,
        output="o" * 4,
    )
    assert tokens.classic == {"definitions": 100, "arguments": 4, "results": 10}
    assert tokens.code_mode == {"surface": 10, "code": 3, "output": 1}
    assert (tokens.classic_total, tokens.code_mode_total, tokens.saved) == (114, 14, 100)
    assert tokens.ratio == pytest.approx(114 / 14)
    assert tokens.tokenizer == "estimate: characters / 4" and tokens.exact is False


def test_an_account_of_no_calls_counts_zero_arguments_and_results() -> None:
    tokens = account(BpeTokenizer(), definitions="", arguments=[], results=[], surface="", code="1 + 1", output="2")
    assert tokens.classic == {"definitions": 0, "arguments": 0, "results": 0}
    assert tokens.code_mode == {"surface": 0, "code": 4, "output": 1}
    assert tokens.exact


def test_the_ratio_is_zero_when_code_mode_counted_nothing() -> None:
    assert _account((10, 0, 0), (0, 0, 0)).ratio == 0.0
    assert _account((0, 0, 0), (0, 0, 0)).ratio == 0.0


def test_accounts_of_one_tokenizer_add_up_to_a_session_total() -> None:
    first, second = _account((100, 2, 30), (40, 5, 6)), _account((100, 3, 10), (0, 7, 1))
    total = first + second
    assert total.classic == {"definitions": 200, "arguments": 5, "results": 40}
    assert total.code_mode == {"surface": 40, "code": 12, "output": 7}
    assert sum([first, second]) == total


def test_accounts_of_different_tokenizers_do_not_add() -> None:
    with pytest.raises(ValueError, match="one tokenizer"):
        _account((1, 1, 1), (1, 1, 1), "a") + _account((1, 1, 1), (1, 1, 1), "b")


def test_an_account_refuses_missing_or_unknown_keys() -> None:
    with pytest.raises(ValueError, match="definitions, arguments, results"):
        TokenAccount(tokenizer="t", exact=True, classic={"definitions": 1},
                     code_mode={"surface": 0, "code": 0, "output": 0})


def test_an_account_is_frozen() -> None:
    tokens = _account((1, 2, 3), (1, 1, 1))
    with pytest.raises(AttributeError):
        tokens.exact = False  # type: ignore[misc]


def test_to_json_is_plain_json_in_a_stable_key_order() -> None:
    tokens = TokenAccount(tokenizer="t", exact=False, classic={"results": 3, "arguments": 2, "definitions": 100},
                          code_mode={"output": 1, "code": 2, "surface": 7})
    data = tokens.to_json()
    assert json.loads(json.dumps(data)) == data
    assert list(data) == ["tokenizer", "exact", "classic", "code_mode", "classic_total", "code_mode_total",
                          "ratio", "saved"]
    assert list(data["classic"]) == ["definitions", "arguments", "results"]
    assert list(data["code_mode"]) == ["surface", "code", "output"]
    assert (data["classic_total"], data["code_mode_total"], data["ratio"], data["saved"]) == (105, 10, 10.5, 95)


def test_the_bar_draws_the_larger_total_full_width_and_says_how_many_times_fewer() -> None:
    assert bar(_account((12_000, 45, 300), (1_000, 200, 34)), width=20) == (
        "classic   ████████████████████ 12,345\n"
        "code mode ██ 1,234   (10.0× fewer)"
    )


def test_the_bar_shows_a_small_total_and_says_when_code_mode_cost_more() -> None:
    assert bar(_account((0, 1, 2), (500, 500, 0)), width=10) == (
        "classic   ▏ 3\n"
        "code mode ██████████ 1,000   (997 more)"
    )


def test_the_bar_of_an_empty_account_has_no_blocks() -> None:
    assert bar(_account((0, 0, 0), (0, 0, 0))) == "classic    0\ncode mode  0   (nothing counted)"


def test_the_bar_refuses_a_width_below_one() -> None:
    with pytest.raises(ValueError, match="width"):
        bar(_account((1, 0, 0), (1, 0, 0)), width=0)
