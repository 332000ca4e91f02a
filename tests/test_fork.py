"""os.fork() and the loop.

goloop's engine is the Go runtime, which does not survive fork(). Contract:
a fork after only ``import goloop`` is harmless (the runtime starts lazily);
in a child forked after a goloop loop was created, ``goloop.new_event_loop()``
and every method of an inherited loop raise RuntimeError mentioning "fork",
and never hang; goloop.Policy hands out asyncio's own loop there instead. The parent is unaffected. (The probe below covers the
methods that touch the engine: scheduling, running, I/O and close(); a
pure clock read such as time() is not required to fail.)

All tests run in subprocesses with bounded waits; a hang is a failure.
Tests of goloop-only guarantees are skipped for the asyncio reference (for
asyncio a forked child may keep using loops); the others run for both.
"""

import json
import textwrap

import pytest

TIMEOUT = 30

# Shared snippet: wait for a child with a deadline, kill it if it hangs.
WAIT_CHILD = """
import warnings
# 3.12+ warns about fork() in a multi-threaded process (the Go runtime has
# threads); that is expected here.
warnings.simplefilter("ignore", DeprecationWarning)

def wait_child(pid, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        wpid, status = os.waitpid(pid, os.WNOHANG)
        if wpid == pid:
            if os.WIFEXITED(status):
                return "exit %d" % os.WEXITSTATUS(status)
            return "signal %d" % os.WTERMSIG(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return "HUNG"
"""


def snippet(*parts):
    """Join code fragments, each dedented on its own."""
    return "\n".join(textwrap.dedent(p) for p in parts)


def goloop_only(loop_kind):
    if loop_kind != "goloop":
        pytest.skip("goloop-specific fork guarantee (asyncio loops survive fork)")


def test_fork_after_import_only_child_runs_loop(run_in_subprocess, loop_kind):
    """Fork before any loop exists (goloop: after just ``import goloop``, with
    the extension not yet loaded): the child creates and runs a loop normally,
    and so does the parent."""
    proc = run_in_subprocess(
        snippet(WAIT_CHILD, """
        if KIND == "goloop":
            import goloop
            print("EXT_LOADED_BEFORE_FORK", "goloop._goloop" in sys.modules)
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                lp = new_loop()
                r = lp.run_until_complete(asyncio.sleep(0.01, result="child ok"))
                lp.close()
                print(r)
                code = 0
            except BaseException as exc:
                print("child error", repr(exc))
            sys.stdout.flush()
            os._exit(code)
        print("CHILD", wait_child(pid))
        lp = new_loop()
        print(lp.run_until_complete(asyncio.sleep(0, result="parent ok")))
        lp.close()
        """),
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, proc
    assert "child ok" in proc.stdout, proc
    assert "CHILD exit 0" in proc.stdout, proc
    assert "parent ok" in proc.stdout, proc
    if loop_kind == "goloop":
        assert "EXT_LOADED_BEFORE_FORK False" in proc.stdout, proc


def test_parent_keeps_working_after_fork_from_running_loop(run_in_subprocess):
    """Forking from inside a running loop (child exits at once) leaves the
    parent's loop fully working: timers, call_soon_threadsafe, readers and
    executor jobs after the fork all complete."""
    proc = run_in_subprocess(
        snippet(WAIT_CHILD, """
        import socket
        loop = new_loop()

        async def main():
            await asyncio.sleep(0.01)
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            status = await loop.run_in_executor(None, wait_child, pid)
            print("CHILD", status)
            await asyncio.sleep(0.01)
            fut = loop.create_future()
            threading.Thread(target=loop.call_soon_threadsafe,
                             args=(fut.set_result, "threadsafe ok")).start()
            print(await asyncio.wait_for(fut, 10))
            a, b = socket.socketpair()
            got = loop.create_future()
            loop.add_reader(a.fileno(), lambda: got.set_result(a.recv(10)))
            b.send(b"reader ok")
            print((await asyncio.wait_for(got, 10)).decode())
            loop.remove_reader(a.fileno())
            a.close(); b.close()
            return "parent ok"

        print(loop.run_until_complete(main()))
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
        """),
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, proc
    out = proc.stdout.splitlines()
    assert out == ["CHILD exit 0", "threadsafe ok", "reader ok", "parent ok"], proc


def test_child_exits_normally_with_inherited_loop(run_in_subprocess):
    """A child forked after a loop was created that simply exits through
    normal interpreter shutdown (sys.exit, finalizers, GC of the inherited
    loop) terminates with its exit status, without hanging."""
    proc = run_in_subprocess(
        snippet(WAIT_CHILD, """
        loop = new_loop()
        loop.run_until_complete(asyncio.sleep(0))
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            sys.exit(7)
        print("CHILD", wait_child(pid))
        print(loop.run_until_complete(asyncio.sleep(0, result="parent ok")))
        loop.close()
        """),
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, proc
    assert "CHILD exit 7" in proc.stdout, proc
    assert "parent ok" in proc.stdout, proc


CHILD_PROBE = """
def probe_child(inherited):
    # Runs in the forked child: try goloop entry points, report as JSON.
    import goloop
    results = {}
    def attempt(name, fn):
        try:
            r = fn()
        except BaseException as exc:
            results[name] = [type(exc).__name__, str(exc)]
        else:
            results[name] = ["returned", repr(r)[:100]]
    async def coro():
        pass
    def with_coro(name):
        # getattr inside: the attribute access itself may raise
        def run():
            c = coro()
            try:
                return getattr(inherited, name)(c)
            finally:
                c.close()
        return run
    attempt("new_event_loop", goloop.new_event_loop)
    # (Policy().new_event_loop deliberately falls back to asyncio's loop in
    # such a child: test_policy_in_forked_child_gives_a_working_loop.)
    attempt("call_soon", lambda: inherited.call_soon(print))
    attempt("call_soon_threadsafe", lambda: inherited.call_soon_threadsafe(print))
    attempt("call_later", lambda: inherited.call_later(1, print))
    attempt("call_at", lambda: inherited.call_at(1.0, print))
    attempt("run_forever", lambda: inherited.run_forever())
    attempt("run_until_complete", with_coro("run_until_complete"))
    attempt("create_task", with_coro("create_task"))
    attempt("add_reader", lambda: inherited.add_reader(0, print))
    attempt("close", lambda: inherited.close())
    return results
"""


def _check_child_results(res):
    assert res, "child reported nothing"
    bad = {
        name: r
        for name, r in res.items()
        if r[0] != "RuntimeError" or "fork" not in r[1].lower()
    }
    assert not bad, f"expected RuntimeError mentioning fork, got: {bad}"


def test_fork_after_loop_created_child_gets_runtime_error(run_in_subprocess, loop_kind):
    """goloop: in a child forked after a loop was created and run,
    goloop.new_event_loop() and the inherited loop's methods raise
    RuntimeError mentioning fork, promptly; the parent keeps working."""
    goloop_only(loop_kind)
    proc = run_in_subprocess(
        snippet(WAIT_CHILD, CHILD_PROBE, """
        import json, goloop
        loop = goloop.new_event_loop()
        loop.run_until_complete(asyncio.sleep(0.01))
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            try:
                print("JSON" + json.dumps(probe_child(loop)))
            except BaseException:
                import traceback
                traceback.print_exc(file=sys.stdout)
            finally:
                sys.stdout.flush()
                os._exit(0)
        print("CHILD", wait_child(pid))
        print(loop.run_until_complete(asyncio.sleep(0.01, result="parent ok")))
        lp2 = goloop.new_event_loop()
        print(lp2.run_until_complete(asyncio.sleep(0, result="parent new loop ok")))
        lp2.close()
        loop.close()
        """),
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, proc
    assert "CHILD exit 0" in proc.stdout, proc
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("JSON")]
    assert lines, proc
    _check_child_results(json.loads(lines[0][4:]))
    assert "parent ok" in proc.stdout and "parent new loop ok" in proc.stdout, proc


def test_fork_inside_running_loop_child_gets_runtime_error(run_in_subprocess, loop_kind):
    """goloop: forking from inside a running goloop loop: the child (whose
    inherited loop is mid-run) gets RuntimeError mentioning fork from
    new_event_loop() and the loop's methods; the parent's run continues."""
    goloop_only(loop_kind)
    proc = run_in_subprocess(
        snippet(WAIT_CHILD, CHILD_PROBE, """
        import json, goloop
        loop = goloop.new_event_loop()

        async def main():
            await asyncio.sleep(0.01)
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                try:
                    # run_forever on the (inherited, running) loop must
                    # complain about fork too, not about "already running"
                    print("JSON" + json.dumps(probe_child(loop)))
                except BaseException:
                    import traceback
                    traceback.print_exc(file=sys.stdout)
                finally:
                    sys.stdout.flush()
                    os._exit(0)
            status = await loop.run_in_executor(None, wait_child, pid)
            print("CHILD", status)
            await asyncio.sleep(0.01)
            return "parent ok"

        print(loop.run_until_complete(main()))
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
        """),
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, proc
    assert "CHILD exit 0" in proc.stdout, proc
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("JSON")]
    assert lines, proc
    _check_child_results(json.loads(lines[0][4:]))
    assert "parent ok" in proc.stdout, proc


def test_fork_child_sanity_reference(run_in_subprocess, loop_kind):
    """Reference sanity check (asyncio only): a child forked after a loop ran
    may create and run a new asyncio loop. This is the behaviour goloop
    deliberately replaces with a RuntimeError (tested above)."""
    if loop_kind != "asyncio":
        pytest.skip("asyncio reference behaviour; goloop raises instead (tested above)")
    proc = run_in_subprocess(
        snippet(WAIT_CHILD, """
        loop = new_loop()
        loop.run_until_complete(asyncio.sleep(0))
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            lp = new_loop()
            print(lp.run_until_complete(asyncio.sleep(0, result="child ok")))
            lp.close()
            sys.stdout.flush()
            os._exit(0)
        print("CHILD", wait_child(pid))
        loop.close()
        """),
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, proc
    assert "child ok" in proc.stdout and "CHILD exit 0" in proc.stdout, proc


def test_policy_in_forked_child_gives_a_working_loop(run_in_subprocess, loop_kind):
    """A worker forked after goloop's runtime started that calls asyncio.run()
    under the goloop policy (a multiprocessing 'fork' pool, say) gets a
    working loop: the policy falls back to asyncio's loop there, while an
    explicit goloop.new_event_loop() still raises RuntimeError."""
    goloop_only(loop_kind)
    proc = run_in_subprocess(
        snippet(WAIT_CHILD, """
        import goloop
        asyncio.set_event_loop_policy(goloop.Policy())
        print("PARENT", asyncio.run(asyncio.sleep(0, result="ok")))
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                r = asyncio.run(asyncio.sleep(0.01, result="child ran"))
                print(r)
                try:
                    goloop.new_event_loop()
                except RuntimeError as exc:
                    print("EXPLICIT", "fork" in str(exc))
                code = 0
            except BaseException as exc:
                print("child error", repr(exc))
            sys.stdout.flush()
            os._exit(code)
        print("CHILD", wait_child(pid))
        """),
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, proc
    assert "PARENT ok" in proc.stdout, proc
    assert "child ran" in proc.stdout, proc
    assert "EXPLICIT True" in proc.stdout, proc
    assert "CHILD exit 0" in proc.stdout, proc
