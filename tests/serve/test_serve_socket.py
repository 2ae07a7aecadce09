"""The listening socket of `codemode serve --transport http`: connections it accepts send each
write at once (TCP_NODELAY). Without it, a response written as headers then body waited for the
client's delayed ACK, about 40 ms on every request of a kept-alive connection."""

from __future__ import annotations

import asyncio
import socket

from codemode.serve._app import ServeOptions, _listen


def test_connections_the_server_accepts_have_nagle_off() -> None:
    listening = _listen(ServeOptions(transport="http", host="127.0.0.1", port=0))
    port = listening.getsockname()[1]

    async def scenario() -> int:
        accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            sock = writer.get_extra_info("socket")
            accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(on_connect, sock=listening)  # as uvicorn serves it
        async with server:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            nodelay = await asyncio.wait_for(accepted, 30)
            writer.close()
        return nodelay

    assert asyncio.run(scenario()) != 0
