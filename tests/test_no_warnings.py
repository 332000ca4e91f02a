"""Under `python -W error`, goloop's own code warns about nothing on any
supported version: 3.14 deprecated the policy API and
asyncio.iscoroutinefunction, and goloop must not trip over either in the
paths a program uses (import, run, debug-mode checks, tasks, threads,
executors, TCP, subprocesses, DNS, signals, sendfile). The same workload
runs on asyncio's loop as the reference."""

WORKLOAD = r"""
import socket, tempfile

async def main():
    loop = asyncio.get_running_loop()
    await asyncio.gather(*(asyncio.sleep(0) for _ in range(3)))
    fut = loop.create_future()
    threading.Thread(target=lambda: loop.call_soon_threadsafe(fut.set_result, 1)).start()
    assert await fut == 1
    await loop.run_in_executor(None, time.sleep, 0)

    async def echo(reader, writer):
        writer.write(await reader.read(5))
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    async with server:
        reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
        writer.write(b"hello")
        await writer.drain()
        assert await reader.read() == b"hello"
        writer.close()
        await writer.wait_closed()

    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "print(1)", stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    assert out.strip() == b"1"

    assert await loop.getaddrinfo("127.0.0.1", 80)

    got = loop.create_future()
    loop.add_signal_handler(signal.SIGUSR1, got.set_result, "signal")
    os.kill(os.getpid(), signal.SIGUSR1)
    assert await got == "signal"
    assert loop.remove_signal_handler(signal.SIGUSR1)

    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    with tempfile.TemporaryFile() as f:
        f.write(b"x" * 1000)
        f.flush()
        assert await loop.sock_sendfile(a, f, 0) == 1000
    a.close()
    assert len(await loop.sock_recv(b, 2000)) > 0
    b.close()

for debug in (False, True):
    loop = new_loop()
    loop.set_debug(debug)
    loop.run_until_complete(main())
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()
if KIND == "goloop":
    import goloop
    goloop.run(main())
    policy = goloop.Policy()
    policy.new_event_loop().close()
print("OK")
"""


def test_workload_under_W_error(run_in_subprocess):
    proc = run_in_subprocess(WORKLOAD, timeout=120, args=("-W", "error"))
    assert proc.returncode == 0, proc
    assert proc.stdout.strip().endswith("OK"), proc


def test_import_and_run_under_W_error(snippet_runner):
    """The issue's own check: python -W error -c "import goloop;
    goloop.run(asyncio.sleep(0))"."""
    proc = snippet_runner("goloop", "import goloop\ngoloop.run(asyncio.sleep(0))\nprint('OK')",
                          args=("-W", "error"))
    assert proc.returncode == 0, proc
    assert proc.stdout.strip() == "OK", proc
