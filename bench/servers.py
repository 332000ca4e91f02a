"""Benchmark servers: one event loop, one mode, one process.

    python bench/servers.py --loop {asyncio,uvloop,rloop,rsloop,zuvloop,goloop} \
        --mode {sock,streams,protocol,buffered,http} [--port 0]

Modes: `sock` echoes with loop.sock_accept/sock_recv/sock_sendall, `streams`
with asyncio.start_server (StreamReader.read + write + drain), `protocol`
with an asyncio.Protocol (data_received -> transport.write), `buffered` with
an asyncio.BufferedProtocol reading into one preallocated buffer, `http` is
a minimal HTTP/1.1 keep-alive server on an asyncio.Protocol.

Control channel: once listening, the server prints one JSON line
{"ready": true, "port": P, "pid": N} on stdout. It then reads commands on
stdin, one per line, in a thread of its own (so the loop under test is not
involved): `cpu` answers with a JSON line of this process's resource usage
(all threads: user and system CPU seconds, context switches), `quit` (or
end of input) stops the loop and exits after a last usage line."""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import sys
import threading
from typing import Callable, Mapping, cast

from harness.loops import LOOPS, factory

READ_SIZE = 256 * 1024  # the stdlib transports' own recv size
HTTP_BODY = b"Hello, World!\n"
HTTP_OK = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
    + str(len(HTTP_BODY)).encode() + b"\r\nConnection: keep-alive\r\n\r\n" + HTTP_BODY
)
HTTP_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"


class EchoProtocol(asyncio.Protocol):
    transport: asyncio.Transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # some loops' are no subclass

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)


class EchoBufferedProtocol(asyncio.BufferedProtocol):
    transport: asyncio.Transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # some loops' are no subclass
        self.buffer = bytearray(READ_SIZE)
        self.view = memoryview(self.buffer)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.view

    def buffer_updated(self, nbytes: int) -> None:
        # A slice of the bytearray is a copy: the buffer is reused at once.
        self.transport.write(self.buffer[:nbytes])


class HttpProtocol(asyncio.Protocol):
    """HTTP/1.1 keep-alive, requests without bodies, pipelining allowed."""

    transport: asyncio.Transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # some loops' are no subclass
        self.pending = b""

    def data_received(self, data: bytes) -> None:
        buf = self.pending + data if self.pending else data
        start = 0
        replies = []
        while True:
            end = buf.find(b"\r\n\r\n", start)
            if end < 0:
                break
            line = buf[start:buf.find(b"\r\n", start)]
            method, _, rest = line.partition(b" ")
            path = rest.partition(b" ")[0]
            ok = method in (b"GET", b"HEAD") and path == b"/"
            replies.append(HTTP_OK if ok else HTTP_NOT_FOUND)
            start = end + 4
        self.pending = buf[start:]
        if replies:
            self.transport.write(b"".join(replies))


async def sock_echo_client(loop: asyncio.AbstractEventLoop, conn: socket.socket) -> None:
    with conn:
        while True:
            data = await loop.sock_recv(conn, READ_SIZE)
            if not data:
                return
            await loop.sock_sendall(conn, data)


async def sock_server(loop: asyncio.AbstractEventLoop, port: int) -> tuple[int, Callable[[], None]]:
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", port))
    lsock.listen(512)
    lsock.setblocking(False)
    tasks: set[asyncio.Task[None]] = set()

    async def accept_forever() -> None:
        while True:
            conn, _ = await loop.sock_accept(lsock)
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            task = loop.create_task(sock_echo_client(loop, conn))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    acceptor = loop.create_task(accept_forever())

    def close() -> None:
        acceptor.cancel()
        for task in list(tasks):
            task.cancel()
        lsock.close()

    return lsock.getsockname()[1], close


async def streams_handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(READ_SIZE)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def start(loop: asyncio.AbstractEventLoop, mode: str, port: int) -> tuple[int, Callable[[], None]]:
    if mode == "sock":
        return await sock_server(loop, port)
    server: asyncio.AbstractServer
    if mode == "streams":
        server = await asyncio.start_server(streams_handler, "127.0.0.1", port, backlog=512)
    else:
        protocols: dict[str, Callable[[], asyncio.BaseProtocol]] = {
            "protocol": EchoProtocol, "buffered": EchoBufferedProtocol, "http": HttpProtocol,
        }
        server = await loop.create_server(protocols[mode], "127.0.0.1", port, backlog=512)
    sockets = server.sockets
    assert sockets
    return sockets[0].getsockname()[1], server.close


def usage() -> dict[str, float]:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return {"utime": ru.ru_utime, "stime": ru.ru_stime,
            "nvcsw": float(ru.ru_nvcsw), "nivcsw": float(ru.ru_nivcsw)}


class Control:
    """stdin commands, stdout answers; the loop only sees the final stop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.lock = threading.Lock()

    def say(self, obj: Mapping[str, object]) -> None:
        with self.lock:
            sys.stdout.write(json.dumps(obj) + "\n")
            sys.stdout.flush()

    def serve(self) -> None:
        for line in sys.stdin:
            command = line.strip()
            if command == "cpu":
                self.say(usage())
            elif command == "quit":
                break
            else:
                self.say({"error": f"unknown command {command!r}"})
        try:
            self.loop.call_soon_threadsafe(self.loop.stop)
        except RuntimeError:
            pass  # the loop is already closed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--loop", required=True, choices=LOOPS)
    ap.add_argument("--mode", required=True, choices=("sock", "streams", "protocol", "buffered", "http"))
    ap.add_argument("--port", type=int, default=0)
    opts = ap.parse_args()
    loop = factory(opts.loop)()
    asyncio.set_event_loop(loop)
    control = Control(loop)
    port, close = loop.run_until_complete(start(loop, opts.mode, opts.port))
    control.say({"ready": True, "port": port, "pid": os.getpid(), "loop": type(loop).__module__})
    threading.Thread(target=control.serve, name="control", daemon=True).start()
    try:
        loop.run_forever()
    finally:
        close()
        loop.run_until_complete(asyncio.sleep(0.01))  # let cancellations land
        control.say(usage())
        asyncio.set_event_loop(None)
        loop.close()


if __name__ == "__main__":
    main()
