"""The `codemode` command line, run as a real subprocess against the embedded demo server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import codemode

SRC = str(Path(codemode.__file__).parent.parent)


def codemode_cli(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CODEMODE_CONFIG"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [SRC, env.get("PYTHONPATH")]))
    env["XDG_CONFIG_HOME"] = str(cwd / "no-config")
    return subprocess.run([sys.executable, "-m", "codemode", *args], cwd=cwd, env=env, input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_exec_prints_the_output_and_exits_zero(tmp_path: Path) -> None:
    done = codemode_cli("exec", "-c", 'print(len(demo.list_orders(status="open")))', cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "6"
    assert "demo.list_orders" in done.stderr  # the trace follows the output


def test_exec_from_stdin_with_json_reports_the_calls(tmp_path: Path) -> None:
    done = codemode_cli("exec", "--json", "-", cwd=tmp_path, stdin="demo.get_order(order_id=1001)['id']\n")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["result"] == {"kind": "json", "value": 1001}
    assert [(c["tool"], c["status"]) for c in report["calls"]] == [("get_order", "ok")]


def test_exec_exits_one_when_the_code_fails(tmp_path: Path) -> None:
    done = codemode_cli("exec", "-c", "demo.get_customer(customer_id=999)", cwd=tmp_path)
    assert done.returncode == 1
    assert "UPSTREAM_ERROR" in done.stderr


def test_exec_input_and_input_file_are_the_variable_input(tmp_path: Path) -> None:
    done = codemode_cli("exec", "--input", '{"ids": [1001, 1002]}', "-c",
                        "print([demo.get_order(order_id=i)['id'] for i in input['ids']])", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[1001, 1002]"
    (tmp_path / "in.json").write_text('[3, 4]')
    done = codemode_cli("exec", "--input-file", "in.json", "-c", "print(sum(input))", cwd=tmp_path)
    assert done.stdout.strip() == "7", done.stderr


def test_exec_input_that_is_not_json_is_one_line_and_exit_two(tmp_path: Path) -> None:
    done = codemode_cli("exec", "--input", "{ids: 1}", "-c", "input", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("codemode: --input: not JSON (")
    done = codemode_cli("exec", "--input-file", "missing.json", "-c", "input", cwd=tmp_path)
    assert done.returncode == 2 and "--input-file missing.json: cannot read it" in done.stderr


def test_a_bad_config_is_one_line_and_exit_two(tmp_path: Path) -> None:
    (tmp_path / "mcp.json").write_text('{"mcpServers": {"x": {"comand": "y"}}}')
    done = codemode_cli("servers", cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "mcp.json" in lines[0] and "'x'" in lines[0]
    assert "Traceback" not in done.stderr


def test_tools_lists_python_signatures(tmp_path: Path) -> None:
    done = codemode_cli("tools", "demo", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "demo.search_products(*, query: str, limit: int = 5)" in done.stdout


def test_stubs_out_writes_a_package_per_server_and_an_index(tmp_path: Path) -> None:
    done = codemode_cli("stubs", "--out", str(tmp_path / "api"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    files = sorted(p.relative_to(tmp_path / "api").as_posix() for p in (tmp_path / "api").rglob("*.pyi"))
    assert "demo/__init__.pyi" in files and "demo/list_orders.pyi" in files and len(files) == 15  # the tools, __init__, _codemode_accessors
    module = (tmp_path / "api" / "demo" / "list_orders.pyi").read_text()
    assert "from . import Order" in module and "def list_orders(" in module
    package = (tmp_path / "api" / "demo" / "__init__.pyi").read_text()
    assert "class Order(TypedDict):" in package and "from .list_orders import list_orders as list_orders" in package
    assert "`demo.search_products`" in (tmp_path / "api" / "index.md").read_text()
    # The package type-checks as written, and so does code that uses it.
    (tmp_path / "api" / "use.py").write_text("import demo\nids: list[int] = [o['id'] for o in demo.list_orders()]\n")
    checked = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", "-p", "demo", "-m", "use"],
                             cwd=tmp_path / "api", env={**os.environ, "MYPYPATH": str(tmp_path / "api")},
                             capture_output=True, text=True, timeout=300)
    assert checked.returncode == 0, checked.stdout


def test_search_prints_the_chosen_detail(tmp_path: Path) -> None:
    done = codemode_cli("search", "open", "orders", "--detail", "names", "--limit", "2", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "demo.list_orders"


def test_repl_keeps_variables_between_entries(tmp_path: Path) -> None:
    entries = "n = len(demo.list_orders(status='open'))\nprint(n * 2)\nfor i in range(2):\n    print(i)\n\n"
    done = codemode_cli("repl", cwd=tmp_path, stdin=entries)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["12", "0", "1"]


def test_an_unknown_server_filter_is_a_usage_error(tmp_path: Path) -> None:
    done = codemode_cli("--server", "nope", "tools", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("codemode: --server 'nope'")


def test_global_options_are_accepted_after_the_command(tmp_path: Path) -> None:
    (tmp_path / "other.json").write_text(json.dumps({"mcpServers": {"shop": {
        "command": sys.executable, "args": ["-m", "codemode.demo"], "env": {"PYTHONPATH": SRC}}}}))
    done = codemode_cli("exec", "--config", "other.json", "-c", "shop.get_order(order_id=1001)['id']",
                        "--server", "shop", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1001"
    listed = codemode_cli("servers", "--config", "other.json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "shop" in listed.stdout


def test_the_value_goes_to_stdout_and_the_report_to_stderr(tmp_path: Path) -> None:
    done = codemode_cli("exec", "-c", "demo.get_order(order_id=1001)['status']", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "shipped\n"  # what $(codemode exec -c ...) captures
    assert "demo.get_order(order_id=1001)" in done.stderr and "shipped" not in done.stderr


def test_timeout_zero_is_refused_and_none_means_no_limit(tmp_path: Path) -> None:
    refused = codemode_cli("exec", "--timeout", "0", "-c", "1", cwd=tmp_path)
    assert refused.returncode == 2
    assert "--timeout" in refused.stderr and "none" in refused.stderr
    unlimited = codemode_cli("exec", "--timeout", "none", "-c", "6 * 7", cwd=tmp_path)
    assert unlimited.returncode == 0, unlimited.stderr
    assert unlimited.stdout.strip() == "42"


def test_help_shows_every_default(tmp_path: Path) -> None:
    text = codemode_cli("exec", "--help", cwd=tmp_path).stdout
    flat = " ".join(text.split())
    for fragment in ("cellTimeout, 120 s", "callTimeout, 60 s", "1,000,000", "no cap", "(default: stubs)",
                     "4096M", "--config FILE", "before or after the command"):
        assert fragment in flat, fragment
    search = " ".join(codemode_cli("search", "--help", cwd=tmp_path).stdout.split())
    assert "(default: signatures)" in search and "(default: 10)" in search


def test_a_syntax_error_shows_only_the_users_code(tmp_path: Path) -> None:
    done = codemode_cli("exec", "-c", "x = (1 +\n", cwd=tmp_path)
    assert done.returncode == 1
    assert "SyntaxError" in done.stderr
    assert 'File "<cell' in done.stderr
    assert ".py\"" not in done.stderr  # no frame of ast.py, of the worker or of any other file


def test_an_error_inside_the_standard_library_shows_the_users_line_only(tmp_path: Path) -> None:
    done = codemode_cli("exec", "-c", "import json\nconfig = json.loads('{')", cwd=tmp_path)
    assert done.returncode == 1
    assert "JSONDecodeError" in done.stderr and 'File "<cell' in done.stderr and "json.loads('{')" in done.stderr
    assert ".py\"" not in done.stderr  # no frame of json/decoder.py, nor of ours


def test_an_unknown_tool_names_no_notebook_command(tmp_path: Path) -> None:
    done = codemode_cli("stubs", "demo.list_order", cwd=tmp_path)
    assert done.returncode == 2
    assert "%codemode" not in done.stderr and "did you mean 'list_orders'" in done.stderr


def test_json_has_isolation_tokens_and_timing_at_the_top_and_matches_its_schema(tmp_path: Path) -> None:
    import jsonschema

    done = codemode_cli("exec", "--json", "-c", "print('hi'); demo.get_order(order_id=1001)['id']", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    schema = json.loads((Path(__file__).parent.parent / "docs" / "run-report.schema.json").read_text())
    jsonschema.validate(report, schema)
    assert {"isolation", "tokens", "timing"} <= set(report)
    assert set(report["timing"]) == {"duration", "calls"}
    assert report["tokens"]["code_mode_total"] > 0 and report["stdout"] == "hi\n"
