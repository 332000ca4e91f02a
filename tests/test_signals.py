"""Unix signals: add_signal_handler / remove_signal_handler and Ctrl-C.

Each test runs in its own interpreter (signal dispositions are process-wide
and a broken loop could hang or kill the process). Every subprocess is
bounded by a timeout: a hang fails the test. The Ctrl-C tests check that a
loop blocked waiting for events still turns SIGINT into KeyboardInterrupt (or,
under asyncio.Runner, into cancellation of the main task), and that the loop
is usable afterwards.
"""

import json
import sys

import pytest

TIMEOUT = 20


def test_signal_handler_runs_callback(run_in_subprocess):
    """add_signal_handler(SIGUSR1, cb, *args): cb(*args) runs in the loop's
    thread when the process signals itself."""
    proc = run_in_subprocess(
        """
        loop = new_loop()
        got = []
        def handler(*args):
            got.append([list(args), threading.current_thread() is threading.main_thread(),
                        asyncio.get_running_loop() is loop])
            loop.stop()
        assert loop.add_signal_handler(signal.SIGUSR1, handler, "a", 1) is None
        loop.call_soon(os.kill, os.getpid(), signal.SIGUSR1)
        loop.call_later(15, loop.stop)
        loop.run_forever()
        print("GOT", got)
        loop.close()
        """,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, proc
    assert "GOT [[['a', 1], True, True]]" in proc.stdout, proc


def test_signal_handler_runs_while_the_loop_is_busy(run_in_subprocess):
    """A loop that never waits (tasks yielding with sleep(0), no fd
    watched) still runs an add_signal_handler callback, and soon: the tasks
    go on until it has run."""
    proc = run_in_subprocess(
        """
        loop = new_loop()
        got = []
        loop.add_signal_handler(signal.SIGUSR1, got.append, "signalled")
        async def spin():
            while not got:
                await asyncio.sleep(0)
        async def main():
            tasks = [asyncio.ensure_future(spin()) for _ in range(2)]
            await asyncio.sleep(0)
            os.kill(os.getpid(), signal.SIGUSR1)
            await asyncio.wait_for(asyncio.gather(*tasks), 15)
        loop.run_until_complete(main())
        print("GOT", got)
        loop.close()
        """,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, proc
    assert "GOT ['signalled']" in proc.stdout, proc


def test_signal_from_other_thread_wakes_loop(run_in_subprocess):
    """A signal sent by another thread while the loop waits on a future (only
    a long timeout pending) wakes the loop and runs the handler."""
    proc = run_in_subprocess(
        """
        loop = new_loop()
        fut = loop.create_future()
        loop.add_signal_handler(signal.SIGUSR2, fut.set_result, "signalled")
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGUSR2)).start()
        print("RESULT", loop.run_until_complete(asyncio.wait_for(fut, 15)))
        loop.close()
        """,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, proc
    assert "RESULT signalled" in proc.stdout, proc


def test_signal_while_loop_not_running_is_delivered_later(run_in_subprocess):
    """A signal that arrives while the loop is not running is not lost: the
    handler runs once the loop runs again."""
    proc = run_in_subprocess(
        """
        loop = new_loop()
        got = []
        loop.add_signal_handler(signal.SIGUSR1, got.append, "late")
        loop.run_until_complete(asyncio.sleep(0))
        os.kill(os.getpid(), signal.SIGUSR1)
        print("BEFORE", got)
        async def wait():
            while not got:
                await asyncio.sleep(0.01)
        loop.run_until_complete(asyncio.wait_for(wait(), 15))
        print("AFTER", got)
        loop.close()
        """,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, proc
    assert "BEFORE []" in proc.stdout, proc
    assert "AFTER ['late']" in proc.stdout, proc


def test_signal_handler_replaced_and_removed(run_in_subprocess):
    """Re-adding a handler for a signal replaces it; remove_signal_handler
    returns True if one was registered, False otherwise, and restores the
    default disposition (SIG_DFL; default_int_handler for SIGINT)."""
    proc = run_in_subprocess(
        """
        loop = new_loop()
        got = []
        loop.add_signal_handler(signal.SIGUSR1, got.append, "old")
        loop.add_signal_handler(signal.SIGUSR1, got.append, "new")
        loop.call_soon(os.kill, os.getpid(), signal.SIGUSR1)
        async def wait():
            while not got:
                await asyncio.sleep(0.01)
        loop.run_until_complete(asyncio.wait_for(wait(), 15))
        loop.run_until_complete(asyncio.sleep(0.05))
        print("GOT", got)
        print("REMOVE1", loop.remove_signal_handler(signal.SIGUSR1))
        print("REMOVE2", loop.remove_signal_handler(signal.SIGUSR1))
        print("USR1_DFL", signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL)
        print("REMOVE_NEVER", loop.remove_signal_handler(signal.SIGUSR2))
        loop.add_signal_handler(signal.SIGINT, lambda: None)
        print("REMOVE_INT", loop.remove_signal_handler(signal.SIGINT))
        print("INT_DEFAULT", signal.getsignal(signal.SIGINT) is signal.default_int_handler)
        loop.close()
        """,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, proc
    out = proc.stdout
    assert "GOT ['new']" in out, proc
    assert "REMOVE1 True" in out and "REMOVE2 False" in out, proc
    assert "USR1_DFL True" in out, proc
    assert "REMOVE_NEVER False" in out, proc
    assert "REMOVE_INT True" in out and "INT_DEFAULT True" in out, proc


def test_signal_handler_argument_errors(run_in_subprocess):
    """Invalid signals and handlers raise what asyncio raises:
    SIGKILL/SIGSTOP -> RuntimeError('sig N cannot be caught');
    0 / out of range -> ValueError('invalid signal number N');
    non-int -> TypeError('sig must be an int, not ...');
    coroutine function -> TypeError('coroutines cannot be used with
    add_signal_handler()'); remove_signal_handler(0) -> ValueError,
    remove_signal_handler(SIGKILL) -> False; from a non-main thread ->
    RuntimeError; on a closed loop -> RuntimeError('Event loop is closed')."""
    proc = run_in_subprocess(
        """
        import json
        loop = new_loop()
        results = {}
        def attempt(name, fn):
            try:
                r = fn()
            except BaseException as exc:
                results[name] = [type(exc).__name__, str(exc)]
            else:
                results[name] = ["returned", repr(r)]
        async def coro_handler():
            pass
        attempt("add SIGKILL", lambda: loop.add_signal_handler(signal.SIGKILL, print))
        attempt("add SIGSTOP", lambda: loop.add_signal_handler(signal.SIGSTOP, print))
        attempt("add 0", lambda: loop.add_signal_handler(0, print))
        attempt("add 1000", lambda: loop.add_signal_handler(1000, print))
        attempt("add -1", lambda: loop.add_signal_handler(-1, print))
        attempt("add str", lambda: loop.add_signal_handler("x", print))
        attempt("add coro func", lambda: loop.add_signal_handler(signal.SIGUSR1, coro_handler))
        attempt("remove 0", lambda: loop.remove_signal_handler(0))
        attempt("remove SIGKILL", lambda: loop.remove_signal_handler(signal.SIGKILL))
        attempt("remove str", lambda: loop.remove_signal_handler("x"))
        def in_thread():
            attempt("add from thread", lambda: loop.add_signal_handler(signal.SIGUSR1, print))
        t = threading.Thread(target=in_thread); t.start(); t.join(10)
        loop.close()
        attempt("add closed", lambda: loop.add_signal_handler(signal.SIGUSR1, print))
        attempt("remove closed", lambda: loop.remove_signal_handler(signal.SIGUSR1))
        print("JSON" + json.dumps(results))
        """,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, proc
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("JSON")][0]
    res = json.loads(line[4:])
    import signal

    assert res["add SIGKILL"] == ["RuntimeError", f"sig {int(signal.SIGKILL)} cannot be caught"]
    assert res["add SIGSTOP"] == ["RuntimeError", f"sig {int(signal.SIGSTOP)} cannot be caught"]
    assert res["add 0"] == ["ValueError", "invalid signal number 0"]
    assert res["add 1000"] == ["ValueError", "invalid signal number 1000"]
    assert res["add -1"] == ["ValueError", "invalid signal number -1"]
    assert res["add str"] == ["TypeError", "sig must be an int, not 'x'"]
    assert res["add coro func"] == [
        "TypeError",
        "coroutines cannot be used with add_signal_handler()",
    ]
    assert res["remove 0"] == ["ValueError", "invalid signal number 0"]
    assert res["remove SIGKILL"] == ["returned", "False"]
    assert res["remove str"] == ["TypeError", "sig must be an int, not 'x'"]
    assert res["add from thread"][0] == "RuntimeError"
    assert res["add closed"] == ["RuntimeError", "Event loop is closed"]
    assert res["remove closed"] == ["returned", "False"]


def test_sigint_handler_replaces_keyboard_interrupt(run_in_subprocess):
    """With add_signal_handler(SIGINT, cb), Ctrl-C runs cb instead of raising
    KeyboardInterrupt."""
    proc = run_in_subprocess(
        """
        loop = new_loop()
        fut = loop.create_future()
        loop.add_signal_handler(signal.SIGINT, fut.set_result, "handled")
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
        print("RESULT", loop.run_until_complete(asyncio.wait_for(fut, 15)))
        loop.remove_signal_handler(signal.SIGINT)
        loop.close()
        """,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, proc
    assert "RESULT handled" in proc.stdout, proc


CTRL_C_SLEEP = """
loop = new_loop()
asyncio.set_event_loop(loop)
threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
try:
    loop.run_until_complete(asyncio.sleep(30))
except KeyboardInterrupt:
    print("KeyboardInterrupt")
else:
    print("NO INTERRUPT")
print("RUNNING", loop.is_running())
print(loop.run_until_complete(asyncio.sleep(0.01, result="OK")))
for t in asyncio.all_tasks(loop):
    t.cancel()
loop.run_until_complete(asyncio.sleep(0))
loop.close()
"""


def test_ctrl_c_interrupts_run_until_complete(run_in_subprocess):
    """SIGINT while run_until_complete(asyncio.sleep(30)) waits raises
    KeyboardInterrupt out of it promptly (well within the 20 s bound), and
    the loop runs another coroutine afterwards."""
    proc = run_in_subprocess(CTRL_C_SLEEP, timeout=TIMEOUT)
    assert proc.returncode == 0, proc
    lines = proc.stdout.split()
    assert lines[:3] == ["KeyboardInterrupt", "RUNNING", "False"], proc
    assert "OK" in lines, proc


def test_ctrl_c_interrupts_idle_run_forever(run_in_subprocess):
    """SIGINT interrupts run_forever() on a loop with nothing scheduled at all
    (blocked indefinitely), and the loop is usable afterwards."""
    proc = run_in_subprocess(
        """
        loop = new_loop()
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
        try:
            loop.run_forever()
        except KeyboardInterrupt:
            print("KeyboardInterrupt")
        print(loop.run_until_complete(asyncio.sleep(0, result="OK")))
        loop.close()
        """,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, proc
    assert proc.stdout.split() == ["KeyboardInterrupt", "OK"], proc


def test_ctrl_c_interrupts_with_pending_reader(run_in_subprocess):
    """SIGINT interrupts a loop blocked waiting for a reader that never
    becomes ready."""
    proc = run_in_subprocess(
        """
        import socket
        loop = new_loop()
        a, b = socket.socketpair()
        loop.add_reader(a.fileno(), print, "never")
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
        try:
            loop.run_forever()
        except KeyboardInterrupt:
            print("KeyboardInterrupt")
        print("REMOVED", loop.remove_reader(a.fileno()))
        print(loop.run_until_complete(asyncio.sleep(0, result="OK")))
        loop.close()
        """,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, proc
    assert proc.stdout.split() == ["KeyboardInterrupt", "REMOVED", "True", "OK"], proc


RUNNER_MAIN = """
async def main():
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        print("main cancelled")
        raise
threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
try:
    RUN
except KeyboardInterrupt:
    print("KeyboardInterrupt")
else:
    print("NO INTERRUPT")
"""


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.Runner is 3.11+")
def test_ctrl_c_runner_cancels_main_task(run_in_subprocess):
    """3.11+: under asyncio.Runner(loop_factory=...), SIGINT cancels the main
    task (main sees CancelledError), then Runner.run raises
    KeyboardInterrupt."""
    code = RUNNER_MAIN.replace(
        "RUN",
        "with asyncio.Runner(loop_factory=new_loop) as r:\n        r.run(main())",
    )
    proc = run_in_subprocess(code, timeout=TIMEOUT)
    assert proc.returncode == 0, proc
    assert proc.stdout.splitlines() == ["main cancelled", "KeyboardInterrupt"], proc


@pytest.mark.skipif(sys.version_info < (3, 12), reason="asyncio.run(loop_factory=) is 3.12+")
def test_ctrl_c_run_with_loop_factory_argument(run_in_subprocess):
    """3.12+: asyncio.run(main(), loop_factory=...) likewise cancels main on
    SIGINT and raises KeyboardInterrupt."""
    code = RUNNER_MAIN.replace("RUN", "asyncio.run(main(), loop_factory=new_loop)")
    proc = run_in_subprocess(code, timeout=TIMEOUT)
    assert proc.returncode == 0, proc
    assert proc.stdout.splitlines() == ["main cancelled", "KeyboardInterrupt"], proc


def test_ctrl_c_run_function(run_in_subprocess, loop_kind):
    """goloop.run (asyncio.run for the reference): SIGINT ends the run with
    KeyboardInterrupt and the main task is cancelled (on 3.11+ before the
    interrupt propagates; on 3.10 during asyncio.run's cleanup)."""
    run = "goloop.run(main())" if loop_kind == "goloop" else "asyncio.run(main())"
    code = RUNNER_MAIN.replace("RUN", run)
    if loop_kind == "goloop":
        code = "import goloop\n" + code
    proc = run_in_subprocess(code, timeout=TIMEOUT)
    assert proc.returncode == 0, proc
    assert proc.stdout.splitlines() == ["main cancelled", "KeyboardInterrupt"], proc
