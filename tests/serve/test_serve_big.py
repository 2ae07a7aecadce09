"""Big results of `codemode serve` as resource links: no answer outgrows a transport's event
limit (the SDK's HTTP client refuses an event over 1 MiB), and the whole value reads back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _serving import HttpServer, start_http

EVENT_LIMIT = 1024 * 1024
CODE = ("big = ''.join(chr(65 + i % 26) for i in range(3_000_000))\n"
        "print('line of output\\n' * 40_000)\n"
        "big")


@pytest.fixture(scope="module")
def server(demo_config_file: Path) -> Iterator[HttpServer]:
    yield from start_http(demo_config_file)


@pytest.mark.parametrize("mode", ["2026-07-28", "legacy"])
def test_a_3_mb_result_over_http_comes_as_links_that_read_back_whole(server: HttpServer, mode: str) -> None:
    import anyio

    async def main() -> tuple[Any, dict[str, str], list[int]]:
        async with server.client(mode=mode) as client:
            await client.list_tools()
            result = await client.call_tool("execute", {"code": CODE})
            whole: dict[str, str] = {}
            sizes = []
            for block in result.content:
                if block.type == "resource_link":
                    read = await client.read_resource(block.uri)
                    sizes.append(len(read.model_dump_json(by_alias=True)))
                    field = block.name.split(" ")[0]
                    whole[field] = whole.get(field, "") + read.contents[0].text
            return result, whole, sizes

    result, whole, sizes = anyio.run(main)
    wire = result.model_dump(by_alias=True, mode="json", exclude_none=True)
    assert not result.is_error, result.content[0].text
    assert len(json.dumps(wire)) < EVENT_LIMIT and max(sizes) < EVENT_LIMIT
    assert len(json.dumps(wire["structuredContent"])) <= 256 * 1024
    text = result.content[0].text
    assert len(text) <= 20_000 and "resources/read codemode://values/" in text
    assert text.splitlines()[-1] == f"session: {result.structured_content['session']}"
    assert whole["result"] == "".join(chr(65 + i % 26) for i in range(3_000_000))
    assert whole["stdout"] == "line of output\n" * 40_000 + "\n"
    data = result.structured_content
    assert set(data["links"]) == {"result", "stdout"}
    assert data["result"].startswith("ABCDEFG") and len(data["result"]) < 3_000


def test_a_value_answers_only_while_its_session_lives(server: HttpServer) -> None:
    import anyio
    from mcp.shared.exceptions import MCPError

    async def main() -> tuple[str, Any]:
        async with server.client(mode="legacy") as client:
            result = await client.call_tool("execute", {"code": "'x' * 400_000"})
            uri = next(block.uri for block in result.content if block.type == "resource_link")
        async with server.client(mode="legacy") as other:  # the first connection, and its session, ended
            with pytest.raises(MCPError) as gone:
                await other.read_resource(uri)
        return uri, gone.value

    uri, gone = anyio.run(main)
    assert uri.startswith("codemode://values/local.")
    assert "no value" in gone.error.message


def test_images_stay_image_blocks_under_the_bound_and_a_big_one_is_linked(server: HttpServer) -> None:
    import base64

    import anyio

    code = ("import random\nimport matplotlib.pyplot as plt\n"
            "plt.figure(figsize=(1, 1)); plt.plot([0, 1]); plt.show()\n"
            "random.seed(1)\nnoise = [[random.random() for _ in range(400)] for _ in range(400)]\n"
            "plt.figure(figsize=(6, 6), dpi=100); plt.imshow(noise); plt.show()\n")

    async def main() -> tuple[Any, bytes]:
        async with server.client(mode="2026-07-28") as client:
            result = await client.call_tool("execute", {"code": code})
            parts = [(await client.read_resource(block.uri)).contents[0].blob
                     for block in result.content if block.type == "resource_link"]
            return result, base64.b64decode("".join(parts))  # parts are whole base64 groups

    result, png = anyio.run(main)
    assert not result.is_error, result.content[0].text
    kinds = [block.type for block in result.content]
    assert kinds[:2] == ["text", "image"] and set(kinds[2:]) == {"resource_link"}, kinds  # the small one inline
    links = [block for block in result.content if block.type == "resource_link"]
    assert {link.mime_type for link in links} == {"image/png"} and png.startswith(b"\x89PNG")
    assert png.endswith(b"IEND\xaeB`\x82")  # the whole image, from its parts
    wire = result.model_dump(by_alias=True, mode="json", exclude_none=True)
    assert len(json.dumps(wire)) < EVENT_LIMIT
