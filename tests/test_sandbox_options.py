"""Limits and sandbox options, per run and per session: the config file, `Session.run`, the
command line. Each checks what the worker could or could not do, on the host's side.

(The magic's flags are tested in a real kernel in test_magics.py.)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cli import codemode_cli

from codemode.config import parse_config
from codemode.engine import Session
from codemode.errors import CodemodeError, IsolationError
from codemode.hub import get_portal
from codemode.sandbox import Sandbox
from codemode.sandbox._options import SandboxOptions, parse_memory


def _layer_active(session: Session, layer: str) -> bool:
    return any(row["layer"] == layer and row["active"] for row in session.isolation)


@pytest.fixture(scope="module")
def session() -> Iterator[Session]:
    with Session() as session:
        yield session


# -- sizes and flags ---------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "mib"), [("512", 512), ("512M", 512), ("2G", 2048), ("1.5GiB", 1536),
                                           ("none", None)])
def test_memory_sizes_parse_to_mib(text: str, mib: int | None) -> None:
    assert parse_memory(text) == mib


@pytest.mark.parametrize("text", ["lots", "12X", "-5M", "10M"])
def test_a_bad_memory_size_names_the_option_and_the_forms(text: str) -> None:
    with pytest.raises(CodemodeError, match="--memory"):
        parse_memory(text)


def test_flags_that_name_missing_paths_or_layers_are_refused(tmp_path: Path) -> None:
    base = SandboxOptions()
    with pytest.raises(CodemodeError, match="does not exist"):
        base.with_flags(allow_read=[str(tmp_path / "missing")])
    (tmp_path / "file").write_text("x")
    with pytest.raises(CodemodeError, match="not a directory"):
        base.with_flags(workdir=str(tmp_path / "file"))
    with pytest.raises(CodemodeError, match="unknown layer 'apparmor'"):
        base.with_flags(require="landlock,apparmor")


# -- per run --------------------------------------------------------------------------------------


def test_tools_allow_list_refuses_other_tools_with_tool_not_allowed(session: Session) -> None:
    report = session.run(
        "print(len(demo.list_orders()))\n"
        "try:\n    demo.cancel_order(order_id=1025)\nexcept ToolError as exc:\n    print(exc.code)",
        tools=["demo.list_*", "demo.get_*"],
    )
    assert report.ok, report.error
    assert report.stdout.splitlines()[1] == "TOOL_NOT_ALLOWED"
    refused = report.calls[1]
    assert (refused.tool, refused.error_code) == ("cancel_order", "TOOL_NOT_ALLOWED")
    assert refused.result_bytes == 0  # it never reached the server


def test_a_workdir_is_where_the_cells_files_land(session: Session, tmp_path: Path) -> None:
    options = session.sandbox_options.with_flags(workdir=str(tmp_path))
    report = session.run("import os\nopen('made-here.txt', 'w').write('hello')\nos.getcwd()", sandbox=options)
    assert report.ok, report.error
    assert (tmp_path / "made-here.txt").read_text() == "hello"
    assert report.value == str(tmp_path)


def test_allow_read_opens_one_more_path_read_only(session: Session, tmp_path: Path) -> None:
    if not _layer_active(session, "landlock"):
        pytest.skip("without Landlock every file is readable: nothing to open")
    data = tmp_path / "data"
    data.mkdir()
    (data / "input.csv").write_text("a,b\n1,2\n")
    code = (f"text = open({str(data / 'input.csv')!r}).read()\n"
            f"try:\n    open({str(data / 'out.txt')!r}, 'w')\n    wrote = True\n"
            "except OSError:\n    wrote = False\n[text, wrote]")
    closed = session.run(code)
    assert not closed.ok and closed.error is not None and closed.error["type"] in ("PermissionError", "FileNotFoundError")  # hidden by the private root
    opened = session.run(code, sandbox=session.sandbox_options.with_flags(allow_read=[str(data)]))
    assert opened.ok, opened.error
    assert opened.value == ["a,b\n1,2\n", False]
    assert not (data / "out.txt").exists()


def test_memory_past_the_limit_raises_memory_error_with_code_memory_and_the_worker_lives(session: Session) -> None:
    options = session.sandbox_options.with_flags(memory="256M")
    report = session.run("kept = 'still here'\nblock = bytearray(512 * 1024 * 1024)", sandbox=options)
    assert not report.ok and report.error is not None
    assert (report.error["type"], report.error["code"]) == ("MemoryError", "MEMORY")
    assert "--memory" in report.error["message"]
    after = session.run("kept", sandbox=options)
    assert after.value == "still here" and not after.worker_restarted


def test_other_worker_options_start_a_fresh_worker_and_the_report_says_why(session: Session) -> None:
    session.run("marker = 1")
    options = session.sandbox_options.with_flags(memory="1G")
    report = session.run("'marker' in globals()", sandbox=options)
    assert report.value is False and report.worker_restarted
    assert "memory (MiB) 4096 → 1024" in report.restart_reason
    assert json.dumps(report.payload()["restartReason"]) == json.dumps(report.restart_reason)
    again = session.run("marker2 = 2", sandbox=options)
    assert not again.worker_restarted


def test_subprocesses_run_only_when_allowed(session: Session) -> None:
    code = "import subprocess\nsubprocess.run(['/bin/echo', 'spawned'], capture_output=True, text=True).stdout"
    denied = session.run(code)
    assert not denied.ok
    allowed = session.run(code, sandbox=session.sandbox_options.with_flags(allow_subprocess=True))
    assert allowed.ok, allowed.error
    assert allowed.value == "spawned\n"


def test_the_report_carries_the_isolation_layers_as_data(session: Session) -> None:
    report = session.run("1")
    layers = {row["layer"]: row["active"] for row in report.isolation}
    assert layers["process"] and layers["environment"] and "seccomp" in layers
    assert report.volatile()["isolation"] == layers


# -- per session: the config file ----------------------------------------------------------------


def test_config_settings_reach_every_run(tmp_path: Path, demo_env: dict[str, str]) -> None:
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "note.txt").write_text("from the config")
    (tmp_path / "work").mkdir()
    config = parse_config({
        "mcpServers": {"demo": {"command": sys.executable, "args": ["-m", "codemode.demo"], "env": demo_env}},
        "codemode": {"tools": ["demo.list_notes"], "maxToolCalls": 2, "maxOutput": 100,
                     "memoryMb": 512, "workdir": "work", "allowRead": ["shared"]},
    }, source=str(tmp_path / "mcp.json"))
    assert config.workdir == "work" and config.allow_read == ("shared",)
    with Session(config) as session:
        options = session.sandbox_options
        assert options.workdir == tmp_path / "work" and options.allow_read == (tmp_path / "shared",)
        assert options.memory_mb == 512
        report = session.run(
            "import os\nprint('x' * 500)\n"
            f"note = open({str(tmp_path / 'shared' / 'note.txt')!r}).read()\n"
            "codes = []\n"
            "for call in (lambda: demo.list_notes(), lambda: demo.list_orders(), lambda: demo.list_notes(),\n"
            "             lambda: demo.list_notes()):\n"
            "    try:\n        call()\n        codes.append('ok')\n"
            "    except ToolError as exc:\n        codes.append(exc.code)\n"
            "[note, codes, os.getcwd()]")
    assert report.ok, report.error
    assert report.value == ["from the config", ["ok", "TOOL_NOT_ALLOWED", "MAX_TOOL_CALLS", "MAX_TOOL_CALLS"],
                            str(tmp_path / "work")]
    assert report.output_dropped == {"stdout": 501 - 100}


def test_a_required_layer_that_is_missing_refuses_to_start() -> None:
    # A worker told not to confine itself stands for a kernel without Landlock.
    sandbox = Sandbox({"servers": {}, "sys_path": []}, confine=False, require=("landlock",))
    with pytest.raises(IsolationError, match="landlock") as refused:
        get_portal().call(sandbox.start)
    assert "not applied" in str(refused.value)
    get_portal().call(sandbox.aclose)
    assert not sandbox.alive


# -- the command line ------------------------------------------------------------------------------


def test_cli_flags_reach_the_run(tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("readable")
    done = codemode_cli("exec", "--tools", "demo.list_*", "--allow-read", str(tmp_path / "in.txt"),
                        "--memory", "512M", "--json", "-c",
                        f"[open({str(tmp_path / 'in.txt')!r}).read(), len(demo.list_notes())]",
                        cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["result"]["value"][0] == "readable"
    refused = codemode_cli("exec", "--tools", "demo.list_*", "-c", "demo.get_order(order_id=1001)", cwd=tmp_path)
    assert refused.returncode == 1 and "TOOL_NOT_ALLOWED" in refused.stderr


def test_cli_isolation_with_require_lists_the_layers(tmp_path: Path) -> None:
    done = codemode_cli("isolation", "--require", "seccomp", cwd=tmp_path)
    if done.returncode == 2:
        assert "seccomp" in done.stderr  # this kernel lacks it: refused with the reason
        return
    assert done.returncode == 0, done.stderr
    assert "seccomp" in done.stdout and "namespaces" in done.stdout


def test_cli_bad_flag_values_are_one_line_and_exit_two(tmp_path: Path) -> None:
    done = codemode_cli("exec", "--memory", "lots", "-c", "1", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == "codemode: --memory: 'lots' is not a size; write MiB as 512, 512M or 2G (or none)"
