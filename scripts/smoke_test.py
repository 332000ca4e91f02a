"""Smoke test of an installed goloop (a wheel or an sdist in a fresh venv):
call_soon, call_later, a TCP echo through asyncio streams and a subprocess,
each checked, on a goloop loop. Exits non-zero on any failure.

    python scripts/smoke_test.py        # from any directory"""
from __future__ import annotations

import asyncio
import os
import sys

import goloop


async def scenario() -> list[str]:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, goloop.Loop), type(loop)
    done: list[str] = []

    # call_soon keeps FIFO order; call_later fires by deadline, not by call order.
    order: list[object] = []
    fired = loop.create_future()
    for i in range(3):
        loop.call_soon(order.append, i)
    loop.call_later(0.02, lambda: fired.set_result(None))
    loop.call_later(0.01, order.append, "later")
    await fired
    assert order == [0, 1, 2, "later"], order
    done.append("call_soon/call_later")

    # TCP echo with asyncio streams.
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readline())
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"hello goloop\n")
    assert await asyncio.wait_for(reader.readline(), 30) == b"hello goloop\n"
    assert await reader.read() == b""
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()
    done.append("tcp echo")

    # A subprocess with piped stdin/stdout and its exit status.
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import sys; sys.stdout.write(sys.stdin.read().upper()); sys.exit(3)",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(proc.communicate(b"piped"), 60)
    assert (out, proc.returncode) == (b"PIPED", 3), (out, proc.returncode)
    done.append("subprocess")
    return done


def main() -> int:
    here = os.path.dirname(os.path.abspath(goloop.__file__))
    done = goloop.run(scenario())
    print(f"smoke test passed on goloop from {here}: {', '.join(done)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
