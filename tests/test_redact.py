"""The one redaction of the package, shared by the audit log and the cassette.

The whole-file behaviour (no secret in an audit file or a cassette after a real run) is
tested in test_audit.py and test_cassette.py; these pin the rules both rely on.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from codemode.cassette._file import DIR_PLACEHOLDER, Scrubber
from codemode.config import parse_config
from codemode.errors import ConfigError
from codemode.trust.redact import REDACTED, Redactor


def test_a_secret_that_contains_another_goes_whole() -> None:
    redactor = Redactor(["abcd", "abcdefgh"])
    assert redactor.text("x abcdefgh y abcd") == f"x {REDACTED} y {REDACTED}"


def test_a_pattern_that_overlaps_a_secret_leaves_no_piece_of_it() -> None:
    redactor = Redactor(["s3cr3t-value"], [r"token=\S{4}"])
    out = redactor.text("token=s3cr3t-value")
    assert "s3cr3t" not in out and "value" not in out


def test_json_values_are_redacted_in_keys_strings_lists_and_tuples() -> None:
    redactor = Redactor(["hunter22"], [r"sk-[a-z]+"])
    value = {"hunter22": ["sk-abc", ("x hunter22",)], "n": 3, "ok": True}
    assert redactor.value(value) == {REDACTED: [REDACTED, [f"x {REDACTED}"]], "n": 3, "ok": True}


def test_an_empty_redactor_changes_nothing_and_is_false() -> None:
    value = {"a": ["b"]}
    assert not Redactor() and Redactor().value(value) is value


def test_a_bad_pattern_is_a_config_error_naming_the_field() -> None:
    with pytest.raises(ConfigError) as info:
        Redactor(patterns=["("])
    assert info.value.field == "codemode.redact"


def test_config_secrets_hold_what_variables_expanded_to_defaults_too() -> None:
    data = {"mcpServers": {"api": {"url": "https://example.test/mcp",
                                   "headers": {"A": "${TOKEN}", "B": "${OTHER:-fallback-key}", "C": "${PIN:-12}"}}}}
    config = parse_config(data, environ={"TOKEN": "tok-12345"})
    assert set(config.secrets) == {"tok-12345", "fallback-key"}  # "12": too short to protect anything


def test_the_cassette_scrubber_redacts_with_the_configs_redactor_and_places_its_folder(tmp_path: Path) -> None:
    data = {"mcpServers": {"api": {"url": "https://example.test/mcp", "headers": {"A": "${TOKEN}"}}},
            "codemode": {"redact": [r"Lucas \w+"]}}
    config = parse_config(data, environ={"TOKEN": "tok-12345"})
    scrubber = Scrubber(tmp_path, Redactor.of(config))
    record = {"path": f"{tmp_path.resolve()}/notes.md", "who": "Lucas Martin", "tok-12345": 1}
    written = scrubber.scrub(record)
    assert written == {"path": f"{DIR_PLACEHOLDER}/notes.md", "who": REDACTED, REDACTED: 1}
    assert scrubber.restore(written)["path"] == f"{tmp_path.resolve()}/notes.md"
