"""Subprocesses (issue 5): create_subprocess_exec/_shell on both loops, with
the behaviours asyncio users rely on — many children at once, exit statuses
(negative for signals), pipes in both directions with large payloads, a
child closing stdout early, cancellation of communicate(), the argument
checks, and Ctrl-C while waiting on a child. Each wait is bounded."""

import asyncio
import hashlib
import os
import signal
import subprocess
import sys

import pytest
from tests.conftest import run_snippet

PY = sys.executable
LIMIT = 120  # generous bound on any single test's waits


def run(loop, coro):
    return loop.run_until_complete(asyncio.wait_for(coro, LIMIT))


def test_many_concurrent_short_children(loop):
    """200 children started together all report exit code 0 and their output."""
    async def one(i):
        proc = await asyncio.create_subprocess_exec(
            "sh", "-c", f"echo {i}", stdout=subprocess.PIPE)
        out, _ = await proc.communicate()
        return proc.returncode, out

    async def main():
        return await asyncio.gather(*[one(i) for i in range(200)])

    results = run(loop, main())
    assert [r[0] for r in results] == [0] * 200
    assert [r[1] for r in results] == [b"%d\n" % i for i in range(200)]


def test_exit_codes_and_signals(loop):
    """returncode is the exit status, or minus the signal number."""
    async def main():
        p1 = await asyncio.create_subprocess_exec(PY, "-c", "import sys; sys.exit(7)")
        p2 = await asyncio.create_subprocess_shell("kill -9 $$")
        p3 = await asyncio.create_subprocess_exec(PY, "-c", "import time; time.sleep(60)")
        p3.send_signal(signal.SIGTERM)
        return await p1.wait(), await p2.wait(), await p3.wait()

    assert run(loop, main()) == (7, -signal.SIGKILL, -signal.SIGTERM)


def test_large_streams_both_ways(loop):
    """50 MB through the child's stdin and back out of its stdout."""
    payload = os.urandom(1 << 20) * 50

    async def main():
        proc = await asyncio.create_subprocess_exec(
            PY, "-c", "import shutil, sys; shutil.copyfileobj(sys.stdin.buffer, sys.stdout.buffer)",
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        out, _ = await proc.communicate(payload)
        return proc.returncode, out

    code, out = run(loop, main())
    assert code == 0
    assert len(out) == len(payload)
    assert hashlib.sha256(out).digest() == hashlib.sha256(payload).digest()


def test_child_closes_stdout_early(loop):
    """A child that closes stdout and keeps running: the reader sees EOF,
    then wait() gets the exit status."""
    code = ("import os, sys, time; sys.stdout.write('bye'); sys.stdout.flush(); "
            "os.close(1); time.sleep(0.3); sys.exit(3)")

    async def main():
        proc = await asyncio.create_subprocess_exec(PY, "-c", code, stdout=subprocess.PIPE)
        data = await proc.stdout.read()
        return data, await proc.wait()

    assert run(loop, main()) == (b"bye", 3)


def test_cancel_communicate(loop):
    """Cancelling communicate() leaves a killable child and a working loop."""
    async def main():
        proc = await asyncio.create_subprocess_exec(
            PY, "-c", "import time; time.sleep(60)", stdout=subprocess.PIPE)
        task = asyncio.ensure_future(proc.communicate())
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        proc.kill()
        return await proc.wait()

    assert run(loop, main()) == -signal.SIGKILL


def test_stdin_to_exited_child(loop):
    """Writing to the stdin of a child that exited: drain() raises
    BrokenPipeError or ConnectionResetError, like asyncio."""
    async def main():
        proc = await asyncio.create_subprocess_exec(
            PY, "-c", "pass", stdin=subprocess.PIPE)
        await proc.wait()
        with pytest.raises((BrokenPipeError, ConnectionResetError)):
            for _ in range(100):
                proc.stdin.write(b"x" * 65536)
                await proc.stdin.drain()

    run(loop, main())


def test_popen_arguments(loop, tmp_path):
    """cwd, env, stderr=STDOUT, DEVNULL and pass_fds behave as in Popen."""
    r, w = os.pipe()

    async def main():
        proc = await asyncio.create_subprocess_exec(
            PY, "-c",
            "import os, sys; print(os.getcwd()); print(os.environ['GOLOOP_T']);"
            f"os.write({w}, b'fd'); sys.stderr.write('err')",
            cwd=str(tmp_path), env={**os.environ, "GOLOOP_T": "yes"},
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            pass_fds=(w,))
        out, _ = await proc.communicate()
        return proc.returncode, out

    try:
        code, out = run(loop, main())
        assert code == 0
        assert out.decode().split("\n")[:2] == [str(tmp_path), "yes"]
        assert out.endswith(b"err")
        assert os.read(r, 2) == b"fd"
    finally:
        os.close(r)
        os.close(w)


@pytest.mark.parametrize("kwargs, message", [
    ({"text": True}, "text must be False"),
    ({"universal_newlines": True}, "universal_newlines must be False"),
    ({"bufsize": 1}, "bufsize must be 0"),
    ({"encoding": "utf-8"}, "encoding must be None"),
    ({"errors": "strict"}, "errors must be None"),
])
def test_exec_argument_errors(loop, kwargs, message):
    """The ValueErrors asyncio raises for text-mode Popen arguments."""
    async def main():
        with pytest.raises(ValueError, match=message):
            await loop.subprocess_exec(asyncio.SubprocessProtocol, PY, "-c", "pass", **kwargs)

    run(loop, main())


def test_shell_argument_errors(loop):
    """subprocess_shell wants a string command and shell=True."""
    async def main():
        with pytest.raises(ValueError, match="cmd must be a string"):
            await loop.subprocess_shell(asyncio.SubprocessProtocol, ["ls"])
        with pytest.raises(ValueError, match="shell must be True"):
            await loop.subprocess_shell(asyncio.SubprocessProtocol, "ls", shell=False)
        with pytest.raises(ValueError, match="shell must be False"):
            await loop.subprocess_exec(asyncio.SubprocessProtocol, "ls", shell=True)

    run(loop, main())


def test_protocol_callback_order(loop):
    """pipe_data_received, then pipe_connection_lost for each pipe, and
    process_exited before connection_lost (asyncio's order). The child
    waits for the parent to close its stdin before exiting: a child that
    exits before its pipes are connected has its exit reported first
    (asyncio 3.14 on a loaded machine, and goloop)."""
    events = []

    class Proto(asyncio.SubprocessProtocol):
        def __init__(self):
            self.done = loop.create_future()

        def connection_made(self, transport):
            self.transport = transport

        def pipe_data_received(self, fd, data):
            events.append(("data", fd))
            self.transport.get_pipe_transport(0).close()

        def pipe_connection_lost(self, fd, exc):
            events.append(("pipe_lost", fd))

        def process_exited(self):
            events.append(("exited",))

        def connection_lost(self, exc):
            events.append(("lost",))
            self.done.set_result(None)

    async def main():
        transport, proto = await loop.subprocess_exec(
            Proto, PY, "-c", "import sys; print('hi', flush=True); sys.stdin.read()",
            stderr=None)
        await proto.done
        code = transport.get_returncode()
        transport.close()
        return code

    assert run(loop, main()) == 0
    assert events[0] == ("data", 1)
    assert events[-1] == ("lost",)
    assert ("pipe_lost", 1) in events and ("exited",) in events


def test_ctrl_c_while_waiting_on_child(run_in_subprocess):
    """SIGINT while awaiting a child raises KeyboardInterrupt out of
    run_until_complete promptly; the child can then be reaped normally."""
    proc = run_in_subprocess(
        """
import asyncio, os, signal, subprocess, sys, threading
loop = new_loop()
asyncio.set_event_loop(loop)
async def start():
    return await asyncio.create_subprocess_exec(sys.executable, "-c", "import time; time.sleep(60)")
child = loop.run_until_complete(start())
threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
try:
    loop.run_until_complete(child.wait())
except KeyboardInterrupt:
    print("KEYBOARD INTERRUPT")
child.kill()
print("CODE", loop.run_until_complete(child.wait()))
loop.close()
""",
        timeout=60,
    )
    assert proc.returncode == 0, proc
    assert "KEYBOARD INTERRUPT" in proc.stdout, proc
    assert f"CODE {-signal.SIGKILL}" in proc.stdout, proc


def test_no_zombie_after_loop_closes(run_in_subprocess, loop_kind):
    """A child still running when its loop is closed is reaped when it
    exits: no zombie is left behind. (A goloop guarantee: asyncio 3.10/3.11
    reap it from their watcher thread, 3.12+'s pidfd watcher leaves a zombie.)"""
    if loop_kind == "asyncio" and sys.version_info >= (3, 12):
        pytest.skip("asyncio 3.12+ leaves this child a zombie")
    proc = run_in_subprocess(
        """
import asyncio, os, sys, time, warnings
warnings.simplefilter("ignore", ResourceWarning)
loop = new_loop()
async def start():
    return await asyncio.create_subprocess_exec(sys.executable, "-c", "import time; time.sleep(0.3)")
child = loop.run_until_complete(start())
pid = child.pid
loop.close()
def state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        # The child can be reaped between open() and read(): read then
        # fails with ESRCH. Either way it is gone.
        return "gone"
deadline = time.monotonic() + 20
while time.monotonic() < deadline and state(pid) != "gone":
    time.sleep(0.05)
print("STATE", state(pid))
""",
        timeout=60,
    )
    assert proc.returncode == 0, proc
    assert "STATE gone" in proc.stdout, proc


def test_exit_code_of_a_child_reaped_by_kill(loop_kind):
    """The child exits; before the loop sees it, proc.kill() runs Popen's
    poll(), which reaps it and keeps the status. wait() still gives the
    real exit code. asyncio before 3.13 watches children with a thread
    blocked in waitpid(): whether that thread or kill()'s poll() reaps the
    child first is a race, and asyncio reports 255 when poll() wins (3.12:
    always), so it is no reference there."""
    if loop_kind == "asyncio" and sys.version_info < (3, 13):
        pytest.skip("asyncio < 3.13: a waitpid() thread races kill()'s poll()")
    proc = run_snippet(loop_kind, """
        import subprocess
        loop = new_loop()
        asyncio.set_event_loop(loop)
        async def main():
            p = await asyncio.create_subprocess_exec(sys.executable, "-c", "import sys; sys.exit(3)")
            for _ in range(1000):  # until it is a zombie; the loop does not run meanwhile
                try:
                    with open(f"/proc/{p.pid}/stat") as f:
                        if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                            break
                except (FileNotFoundError, ProcessLookupError):
                    break  # already reaped (asyncio's watcher thread)
                time.sleep(0.01)
            try:
                p.kill()
            except ProcessLookupError:
                pass
            return await p.wait()
        print(loop.run_until_complete(main()))
        loop.close()
    """)
    assert proc.returncode == 0, proc
    assert proc.stdout.split() == ["3"], proc
