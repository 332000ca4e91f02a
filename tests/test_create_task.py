"""loop.create_task at the edges of goloop's C fast path (pyext/tasks.c):
every case runs against asyncio too, so both paths must match it."""

import asyncio
import contextvars
import gc
import sys
import traceback

import pytest

VAR = contextvars.ContextVar("VAR", default="default")


async def answer(x=42):
    return x


def test_closed_loop_raises_like_asyncio(loop):
    loop.close()
    coro = answer()
    with pytest.raises(RuntimeError, match="Event loop is closed"):
        loop.create_task(coro)
    coro.close()


def test_positional_and_unknown_keyword_arguments_rejected(loop):
    coro = answer()
    with pytest.raises(TypeError):
        loop.create_task(coro, "name")
    with pytest.raises(TypeError):
        loop.create_task(coro, eager=True)
    with pytest.raises(TypeError):
        loop.create_task()
    with pytest.raises(TypeError):
        loop.create_task(coro, *range(10))
    coro.close()


def test_name_none_and_context_none_mean_defaults(loop):
    kwargs = {"name": None}
    if sys.version_info >= (3, 11):
        kwargs["context"] = None
    token = VAR.set("creator")
    try:
        t = loop.create_task(answer(), **kwargs)
    finally:
        VAR.reset(token)

    async def read():
        return VAR.get()

    assert t.get_name().startswith("Task-")
    assert loop.run_until_complete(t) == 42
    t2 = loop.create_task(read(), **kwargs)
    assert loop.run_until_complete(t2) == "default"


@pytest.mark.skipif(sys.version_info < (3, 11), reason="create_task(context=) is 3.11+")
def test_name_and_context_together(loop):
    ctx = contextvars.copy_context()
    ctx.run(VAR.set, "in-ctx")

    async def read():
        return VAR.get()

    t = loop.create_task(read(), context=ctx, name="both")
    assert t.get_name() == "both"
    assert loop.run_until_complete(t) == "in-ctx"


def test_patched_asyncio_task_class_is_used(loop, monkeypatch):
    """asyncio looks tasks.Task up on every call; so does goloop."""
    made = []

    class Recording(asyncio.Task):
        def __init__(self, coro, **kwargs):
            made.append(kwargs.get("name"))
            super().__init__(coro, **kwargs)

    monkeypatch.setattr(asyncio.tasks, "Task", Recording)
    t = loop.create_task(answer(), name="patched")
    assert isinstance(t, Recording)
    assert made == ["patched"]
    assert loop.run_until_complete(t) == 42


@pytest.mark.skipif(sys.version_info < (3, 11), reason="create_task(context=) is 3.11+")
def test_task_factory_receives_context(loop):
    seen = []

    def factory(lp, coro, **kwargs):
        seen.append(sorted(kwargs))
        return asyncio.Task(coro, loop=lp, **kwargs)

    loop.set_task_factory(factory)
    ctx = contextvars.copy_context()
    t = loop.create_task(answer(), context=ctx, name="f")
    assert loop.run_until_complete(t) == 42
    assert t.get_name() == "f"
    # 3.14 hands every keyword to the factory; earlier versions only
    # context, and set the name afterwards.
    assert seen == ([["context", "name"]] if sys.version_info >= (3, 14) else [["context"]])


@pytest.mark.skipif(sys.version_info < (3, 12), reason="eager_task_factory is 3.12+")
def test_eager_task_factory(loop):
    loop.set_task_factory(asyncio.eager_task_factory)
    steps = []

    async def eager():
        steps.append("ran")
        return 7

    async def main():
        t = loop.create_task(eager())
        steps.append("after create")
        return await t

    assert loop.run_until_complete(main()) == 7
    assert steps == ["ran", "after create"]


def test_debug_source_traceback_ends_at_the_caller(loop):
    """In debug mode the task's creation traceback ends at the line that
    called create_task, not inside the loop."""
    loop.set_debug(True)
    t = loop.create_task(answer()); line = sys._getframe().f_lineno  # noqa: E702
    tb = t._source_traceback
    assert tb, "debug mode records where the task was created"
    last = tb[-1]
    assert last.filename == __file__ and last.lineno == line, traceback.format_list(tb)
    loop.run_until_complete(t)


def test_many_tasks_then_gather_no_leak(loop):
    """Tasks made by the fast path are freed once done (no extra refs)."""
    import weakref

    async def main():
        ts = [loop.create_task(answer(i)) for i in range(200)]
        refs = [weakref.ref(t) for t in ts]
        assert await asyncio.gather(*ts) == list(range(200))
        return refs

    refs = loop.run_until_complete(main())
    gc.collect()
    assert all(r() is None for r in refs)



@pytest.mark.skipif(sys.version_info < (3, 14), reason="create_task(eager_start=) is 3.14+")
@pytest.mark.parametrize("eager", [True, False, None])
def test_eager_start_keyword(loop, eager):
    steps = []

    async def coro():
        steps.append("ran")
        return 7

    async def main():
        t = loop.create_task(coro(), eager_start=eager, name="e")
        steps.append("after create")
        assert t.get_name() == "e"
        return await t

    assert loop.run_until_complete(main()) == 7
    assert steps == (["ran", "after create"] if eager else ["after create", "ran"])


@pytest.mark.skipif(sys.version_info < (3, 14), reason="3.14+: keywords go to the factory")
def test_task_factory_receives_every_keyword(loop):
    seen = []

    def factory(lp, coro, **kwargs):
        seen.append(kwargs)
        return asyncio.Task(coro, loop=lp, **kwargs)

    loop.set_task_factory(factory)
    ctx = contextvars.copy_context()

    async def main():
        t = loop.create_task(answer(), name="n", context=ctx, eager_start=True)
        return t.done() and t.result()

    assert loop.run_until_complete(main()) == 42
    # The first is run_until_complete's own task for main().
    assert seen == [{}, {"name": "n", "context": ctx, "eager_start": True}]
    coro = answer()
    with pytest.raises(TypeError):
        loop.create_task(coro, no_such_keyword=1)
    coro.close()


@pytest.mark.skipif(sys.version_info < (3, 14), reason="3.14+: the name reaches the factory")
def test_eager_task_factory_names_the_task_before_its_first_step(loop):
    loop.set_task_factory(asyncio.eager_task_factory)
    names = []

    async def coro():
        names.append(asyncio.current_task().get_name())

    async def main():
        await loop.create_task(coro(), name="early")

    loop.run_until_complete(main())
    assert names == ["early"]
