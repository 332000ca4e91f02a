"""contextvars on stream connections, 3.15+: a server captures the context
it was created in, and each accepted connection runs (protocol factory,
connection_made, data_received, connection_lost, the start_server handler)
in a copy of it; a client connection's callbacks share one copy of the
caller's context taken by create_connection. Nothing a connection sets
leaks into another connection or back into the code that made the server.
Plain TCP and TLS, on both loops (asyncio's Server calls
loop._start_serving(..., context=...))."""

import asyncio
import contextvars
import sys

import pytest
from tests.io_helpers import _collect_garbage, run  # noqa: F401
from tests.test_io_tls import certfiles, client_ctx, server_ctx  # noqa: F401

pytestmark = pytest.mark.skipif(sys.version_info < (3, 15),
                                reason="per-connection contexts are 3.15+")

VAR = contextvars.ContextVar("VAR", default="default")


@pytest.fixture(params=["tcp", "tls"])
def tls(request, server_ctx, client_ctx):  # noqa: F811
    """(server ssl, client ssl) or (None, None)."""
    if request.param == "tls":
        return server_ctx, client_ctx
    return None, None


def test_start_server_handlers_see_the_servers_context(loop, tls):
    server_ssl, client_ssl = tls
    seen = []

    async def handler(reader, writer):
        seen.append(VAR.get())
        VAR.set("set by a handler")  # must not reach the next connection
        writer.write(b"x")
        await writer.drain()
        writer.close()

    async def client(port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_ssl,
                                                       server_hostname="localhost" if client_ssl else None)
        assert await reader.read() == b"x"
        writer.close()
        await writer.wait_closed()

    async def main():
        VAR.set("at creation")
        server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=server_ssl)
        VAR.set("after creation")
        port = server.sockets[0].getsockname()[1]
        async with server:
            for _ in range(3):
                await client(port)
        return VAR.get()

    assert run(loop, main()) == "after creation"
    assert seen == ["at creation"] * 3


def test_protocol_callbacks_share_one_context_per_connection(loop, tls):
    server_ssl, client_ssl = tls
    server_log = []

    class Server(asyncio.Protocol):
        def __init__(self):
            server_log.append(("init", VAR.get()))

        def connection_made(self, transport):
            server_log.append(("made", VAR.get()))
            VAR.set("made")
            self.transport = transport

        def data_received(self, data):
            server_log.append(("data", VAR.get()))
            VAR.set("data")
            self.transport.write(data)
            self.transport.close()

        def connection_lost(self, exc):
            server_log.append(("lost", VAR.get()))

    async def main():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Server, "127.0.0.1", 0, ssl=server_ssl)
        VAR.set("after creation")
        port = server.sockets[0].getsockname()[1]
        async with server:
            for _ in range(2):
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", port, ssl=client_ssl,
                    server_hostname="localhost" if client_ssl else None)
                writer.write(b"ping")
                assert await reader.read() == b"ping"
                writer.close()
                await writer.wait_closed()
                while len(server_log) % 4:
                    await asyncio.sleep(0.001)
        return VAR.get()

    assert run(loop, main()) == "after creation"
    one = [("init", "default"), ("made", "default"), ("data", "made"), ("lost", "data")]
    assert server_log == one * 2


def test_client_callbacks_run_in_a_copy_of_the_callers_context(loop, tls):
    server_ssl, client_ssl = tls
    log = []

    class Client(asyncio.Protocol):
        def __init__(self):
            self.done = asyncio.get_running_loop().create_future()

        def connection_made(self, transport):
            log.append(("made", VAR.get()))
            VAR.set("made")
            transport.write(b"ping")

        def data_received(self, data):
            log.append(("data", VAR.get()))

        def connection_lost(self, exc):
            log.append(("lost", VAR.get()))
            self.done.set_result(None)

    async def echo_once(reader, writer):
        writer.write(await reader.read(4))
        await writer.drain()
        writer.close()

    async def main():
        loop = asyncio.get_running_loop()
        server = await asyncio.start_server(echo_once, "127.0.0.1", 0, ssl=server_ssl)
        port = server.sockets[0].getsockname()[1]
        async with server:
            VAR.set("caller")
            transport, protocol = await loop.create_connection(
                Client, "127.0.0.1", port, ssl=client_ssl,
                server_hostname="localhost" if client_ssl else None)
            VAR.set("caller, later")
            await protocol.done
        return VAR.get()

    assert run(loop, main()) == "caller, later"
    assert log == [("made", "caller"), ("data", "made"), ("lost", "made")]


def test_a_task_resuming_reading_does_not_lend_its_context(loop):
    """A task started from data_received sets variables and resumes
    reading: the connection's later callbacks do not see them (gh-140947)."""
    log = []
    tasks = set()

    class Server(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport
            log.append(("made", VAR.get()))

        def data_received(self, data):
            log.append(("data", VAR.get()))
            self.transport.pause_reading()
            task = asyncio.get_running_loop().create_task(self.app())
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        async def app(self):
            VAR.set("in the task")
            self.transport.resume_reading()

        def connection_lost(self, exc):
            log.append(("lost", VAR.get()))

    async def main():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Server, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"one")
            await writer.drain()
            while len(log) < 2 or tasks:
                await asyncio.sleep(0.001)
            writer.write(b"two")
            await writer.drain()
            writer.close()
            await writer.wait_closed()
            while not log or log[-1][0] != "lost":
                await asyncio.sleep(0.001)

    run(loop, main())
    assert all(value == "default" for _, value in log), log
    assert [name for name, _ in log][0] == "made" and log[-1][0] == "lost"
