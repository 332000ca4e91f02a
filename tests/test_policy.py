"""goloop's public API: lazy import, Loop, Policy/EventLoopPolicy, install(),
new_event_loop() and run().

These tests are goloop-only (not parametrized): they check the package's own
contract rather than asyncio-compatible loop behaviour. Import laziness is
checked in fresh interpreters because the test process has usually loaded
the extension already.
"""

import asyncio
import sys

import pytest

TIMEOUT = 30


def test_import_does_not_load_extension(snippet_runner):
    """A fresh ``import goloop`` does not load the Go extension."""
    proc = snippet_runner(
        "goloop",
        """
        import goloop
        print("LOADED", "goloop._goloop" in sys.modules)
        """,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, proc
    assert "LOADED False" in proc.stdout, proc


def test_loop_attribute_loads_extension(snippet_runner):
    """Accessing goloop.Loop loads the extension (and gives the class)."""
    proc = snippet_runner(
        "goloop",
        """
        import goloop
        cls = goloop.Loop
        print("LOADED", "goloop._goloop" in sys.modules)
        print("SUBCLASS", issubclass(cls, asyncio.AbstractEventLoop))
        """,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, proc
    assert "LOADED True" in proc.stdout and "SUBCLASS True" in proc.stdout, proc


def test_new_event_loop_loads_extension(snippet_runner):
    """The first loop creation loads the extension."""
    proc = snippet_runner(
        "goloop",
        """
        import goloop
        before = "goloop._goloop" in sys.modules
        lp = goloop.new_event_loop()
        print("BEFORE", before, "AFTER", "goloop._goloop" in sys.modules)
        lp.close()
        """,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, proc
    assert "BEFORE False AFTER True" in proc.stdout, proc


def test_policy_classes_do_not_load_extension(snippet_runner):
    """Using the policy class and install() alone stays lazy: only creating
    a loop loads the extension."""
    proc = snippet_runner(
        "goloop",
        """
        import goloop
        goloop.install()
        p = asyncio.get_event_loop_policy()
        print("POLICY", type(p).__name__, "LOADED", "goloop._goloop" in sys.modules)
        lp = p.new_event_loop()
        print("LOADED_AFTER_LOOP", "goloop._goloop" in sys.modules)
        lp.close()
        """,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, proc
    assert "LOADED False" in proc.stdout, proc
    assert "LOADED_AFTER_LOOP True" in proc.stdout, proc


def test_loop_class(goloop_module):
    """goloop.Loop subclasses asyncio.AbstractEventLoop; new_event_loop()
    returns a fresh, open, non-running goloop.Loop each call."""
    goloop = goloop_module
    assert issubclass(goloop.Loop, asyncio.AbstractEventLoop)
    a = goloop.new_event_loop()
    b = goloop.new_event_loop()
    try:
        assert isinstance(a, goloop.Loop) and isinstance(b, goloop.Loop)
        assert a is not b
        assert not a.is_closed() and not a.is_running()
        assert a.run_until_complete(asyncio.sleep(0, result=1)) == 1
    finally:
        a.close()
        b.close()


def test_policy_classes(goloop_module):
    """goloop.Policy is goloop.EventLoopPolicy and subclasses
    asyncio.DefaultEventLoopPolicy; its new_event_loop() gives goloop loops."""
    goloop = goloop_module
    assert goloop.EventLoopPolicy is goloop.Policy
    assert issubclass(goloop.Policy, asyncio.DefaultEventLoopPolicy)
    policy = goloop.Policy()
    lp = policy.new_event_loop()
    try:
        assert isinstance(lp, goloop.Loop)
    finally:
        lp.close()


def test_install_sets_policy(goloop_module):
    """install() sets a goloop.Policy as the asyncio policy, so that
    asyncio.new_event_loop() returns goloop loops. (The conftest restores
    the previous policy afterwards.)"""
    goloop = goloop_module
    goloop.install()
    assert isinstance(asyncio.get_event_loop_policy(), goloop.Policy)
    lp = asyncio.new_event_loop()
    try:
        assert isinstance(lp, goloop.Loop)
        assert lp.run_until_complete(asyncio.sleep(0, result="ok")) == "ok"
    finally:
        lp.close()


def test_installed_policy_set_and_get_event_loop(goloop_module):
    """With the policy installed, set_event_loop/get_event_loop round-trip a
    goloop loop in the main thread."""
    goloop = goloop_module
    goloop.install()
    lp = asyncio.new_event_loop()
    try:
        asyncio.set_event_loop(lp)
        assert asyncio.get_event_loop() is lp
    finally:
        asyncio.set_event_loop(None)
        lp.close()


def test_installed_policy_used_by_stdlib_run(snippet_runner):
    """After install(), plain asyncio.run() runs on a goloop loop."""
    proc = snippet_runner(
        "goloop",
        """
        import goloop
        goloop.install()
        async def main():
            return type(asyncio.get_running_loop()) is goloop.Loop
        print("GOLOOP", asyncio.run(main()))
        """,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, proc
    assert "GOLOOP True" in proc.stdout, proc


def test_run_returns_result_on_goloop(goloop_module):
    """goloop.run(main) runs main on a new goloop.Loop, returns its result,
    closes the loop, and leaves no current/running loop behind."""
    goloop = goloop_module
    seen = []

    async def main(x):
        seen.append(asyncio.get_running_loop())
        await asyncio.sleep(0)
        return x * 3

    assert goloop.run(main(5)) == 15
    assert isinstance(seen[0], goloop.Loop)
    assert seen[0].is_closed()
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()


@pytest.mark.parametrize("debug", [True, False])
def test_run_passes_debug(goloop_module, debug):
    """goloop.run(main, debug=...) sets the loop's debug mode."""
    goloop = goloop_module

    async def main():
        return asyncio.get_running_loop().get_debug()

    assert goloop.run(main(), debug=debug) is debug


def test_run_debug_default(goloop_module):
    """goloop.run(main) with debug=None keeps the default debug mode."""
    goloop = goloop_module

    async def main():
        return asyncio.get_running_loop().get_debug()

    ref = asyncio.new_event_loop()
    try:
        expected = ref.get_debug()
    finally:
        ref.close()
    assert goloop.run(main()) is expected
    assert goloop.run(main(), debug=None) is expected


def test_run_debug_is_keyword_only(goloop_module):
    """debug is keyword-only, as in asyncio.run."""
    goloop = goloop_module

    async def main():
        pass

    coro = main()
    try:
        with pytest.raises(TypeError):
            goloop.run(coro, True)
    finally:
        coro.close()


def test_run_propagates_exception(goloop_module):
    """An exception from main propagates out of goloop.run."""
    goloop = goloop_module

    async def main():
        raise ZeroDivisionError("from main")

    with pytest.raises(ZeroDivisionError, match="from main"):
        goloop.run(main())


def test_run_can_be_called_repeatedly(goloop_module):
    """Each goloop.run uses a new loop; sequential calls work."""
    goloop = goloop_module
    loops = []

    async def main():
        loops.append(asyncio.get_running_loop())

    goloop.run(main())
    goloop.run(main())
    assert len(loops) == 2 and loops[0] is not loops[1]
    assert all(lp.is_closed() for lp in loops)


@pytest.mark.skipif(sys.version_info < (3, 12), reason="asyncio.run(loop_factory=) is 3.12+")
def test_run_with_loop_factory_argument_goloop(goloop_module):
    """3.12+: asyncio.run(main, loop_factory=goloop.new_event_loop) works."""
    goloop = goloop_module

    async def main():
        return type(asyncio.get_running_loop())

    assert asyncio.run(main(), loop_factory=goloop.new_event_loop) is goloop.Loop


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.Runner is 3.11+")
def test_runner_with_goloop_factory(goloop_module):
    """3.11+: asyncio.Runner(loop_factory=goloop.new_event_loop) works."""
    goloop = goloop_module
    with asyncio.Runner(loop_factory=goloop.new_event_loop) as r:
        assert isinstance(r.get_loop(), goloop.Loop)

        async def main():
            return asyncio.get_running_loop()

        assert r.run(main()) is r.get_loop()


def test_install_warns_only_through_asyncio(snippet_runner):
    """install() works on every supported version; from 3.14 asyncio's own
    set_event_loop_policy deprecation warning is the only one, and making
    the policy itself warns about nothing."""
    proc = snippet_runner(
        "goloop",
        """
        import warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import goloop
            policy = goloop.Policy()
            print("POLICY", [str(w.message) for w in caught])
            goloop.install()
            lp = asyncio.new_event_loop()
            print("LOOP", type(lp).__name__)
            lp.close()
        print("ALL", [(w.category.__name__, str(w.message)) for w in caught])
        """,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, proc
    assert "POLICY []" in proc.stdout and "LOOP Loop" in proc.stdout, proc
    if sys.version_info >= (3, 14):
        msg = "'asyncio.set_event_loop_policy' is deprecated and slated for removal in Python 3.16"
        assert f"ALL [('DeprecationWarning', \"{msg}\")]" in proc.stdout, proc
    else:
        assert "ALL []" in proc.stdout, proc
