"""`%codemode record / replay / live / config` in a real kernel: the session switches in one line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from kernels import Kernel

from codemode.config import demo_config
from codemode.trace import MIME_TYPE

CELL = "%%codemode\ndemo.get_order(order_id=1001)['id']"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    with Kernel(tmp_path_factory.mktemp("switch")) as kernel:
        kernel.run("%load_ext codemode")
        yield kernel


def _value(execution: object) -> object:
    (report,) = execution.reports  # type: ignore[attr-defined]
    return report["data"][MIME_TYPE]["result"]["value"]


def test_record_then_replay_then_live_each_say_what_they_did_in_one_line(kernel: Kernel, tmp_path: Path) -> None:
    tape = tmp_path / "orders.cassette.jsonl"
    recording = kernel.run(f"%codemode record {tape}")
    assert recording.stdout.count("\n") == 1
    assert f"recording to {tape}" in recording.stdout and "earlier variables are gone" in recording.stdout
    assert _value(kernel.run(CELL)) == 1001
    assert '"order_id": 1001' in tape.read_text()

    replaying = kernel.run(f"%codemode replay {tape} --strict")
    assert f"replaying {tape} (strict)" in replaying.stdout
    assert kernel.run("%codemode servers").value.splitlines()[-1].split() == ["demo", "demo", "stdio", "connected", "13"]
    assert _value(kernel.run(CELL)) == 1001
    missing = kernel.execute("%%codemode\ndemo.get_order(order_id=1002)")
    assert missing.error["traceback"][-1].endswith("[NOT_RECORDED]") or "NOT_RECORDED" in missing.all_text
    assert "order_id: 1002 here, 1001 recorded" in missing.all_text

    live = kernel.run("%codemode live")
    assert "live servers, no cassette" in live.stdout
    assert _value(kernel.run("%%codemode\ndemo.get_order(order_id=1002)['id']")) == 1002


def test_replay_of_a_missing_cassette_is_a_usage_error_and_starts_nothing(kernel: Kernel) -> None:
    execution = kernel.execute("%codemode replay nowhere.cassette.jsonl")
    assert execution.reply["ename"] == "UsageError"
    assert "no cassette at nowhere.cassette.jsonl" in execution.stderr


def test_config_switches_servers_and_resets_the_worker(kernel: Kernel, tmp_path: Path) -> None:
    demo = demo_config().servers["demo"]
    config = tmp_path / "shop.json"
    config.write_text(json.dumps({"mcpServers": {"shop": {"command": demo.command, "args": demo.args,  # type: ignore[union-attr]
                                                          "env": demo.env}}}))  # type: ignore[union-attr]
    kernel.run("%%codemode\nkept = 1")
    switched = kernel.run(f"%codemode config {config}")
    assert switched.stdout == f"codemode: config {config}: servers shop; a fresh worker (earlier variables are gone)\n"
    assert _value(kernel.run("%%codemode\n[shop.get_order(order_id=1001)['id'], 'kept' in globals()]")) == [1001, False]
    back = kernel.run("%config CodeModeMagics.config_file = ''")  # set after a session started: applied the same way
    assert back.stdout.startswith("codemode: config the usual places: servers demo;")


def test_an_unknown_subcommand_starts_no_session(tmp_path: Path) -> None:
    with Kernel(tmp_path) as kernel:
        kernel.run("%load_ext codemode")
        execution = kernel.execute("%codemode --config x.json")
        assert "unknown subcommand" in execution.stderr
        magics = kernel.run("get_ipython().magics_manager.registry['CodeModeMagics']._session is None")
        assert magics.value == "True"
