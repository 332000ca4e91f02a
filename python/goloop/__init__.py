"""goloop: a drop-in asyncio event loop whose engine is written in Go.

Usage::

    import goloop
    goloop.run(main())                                   # like asyncio.run
    asyncio.run(main(), loop_factory=goloop.new_event_loop)   # 3.12+
    asyncio.set_event_loop_policy(goloop.Policy())       # or install(); the
                                                         # policy API is deprecated
                                                         # from 3.14

`import goloop` does not load the Go library (and so does not start the Go
runtime): that happens on the first loop created or on access to
`goloop.Loop`. A process may therefore fork freely after importing goloop.
"""
from __future__ import annotations

import asyncio
import os
import sys
import weakref
from typing import TYPE_CHECKING, Any, Coroutine, TypeVar

if TYPE_CHECKING:
    from ._loop import Loop

__version__ = "0.1.0"
__all__ = ("Loop", "new_event_loop", "Policy", "EventLoopPolicy", "install", "run")

_T = TypeVar("_T")


def new_event_loop() -> "Loop":
    """Return a new goloop event loop."""
    from ._loop import Loop

    return Loop()


def __getattr__(name: str) -> Any:
    # PEP 562: goloop.Loop loads the Go library only when asked for.
    if name == "Loop":
        from ._loop import Loop

        return Loop
    raise AttributeError(f"module 'goloop' has no attribute {name!r}")


def _forked_after_load() -> bool:
    """True in a child forked after the Go library was loaded."""
    ext = sys.modules.get("goloop._goloop")
    return ext is not None and ext._forked()


def _reset_after_fork(ref: "weakref.ReferenceType[Policy]") -> None:
    policy = ref()
    if policy is not None:
        # The parent's loop (and the Go runtime behind it) is unusable in
        # the child: forget it, as asyncio itself does since 3.12.
        policy._local = policy._Local()


# asyncio's default policy class. From 3.14 the public name is a deprecated
# alias (removal planned for 3.16) that warns on every access; the class
# behind it is unix_events._DefaultEventLoopPolicy, used here so that
# importing goloop warns about nothing.
if sys.version_info >= (3, 14):
    from asyncio.unix_events import _DefaultEventLoopPolicy as _BasePolicy
else:
    _BasePolicy = asyncio.DefaultEventLoopPolicy


class Policy(_BasePolicy):  # type: ignore[misc,valid-type]
    """Event loop policy whose loops are goloop loops."""

    def __init__(self) -> None:
        super().__init__()
        if hasattr(os, "register_at_fork"):
            ref = weakref.ref(self)
            os.register_at_fork(after_in_child=lambda: _reset_after_fork(ref))

    def _loop_factory(self) -> asyncio.AbstractEventLoop:  # type: ignore[override]
        if _forked_after_load():
            # The Go runtime does not survive fork(): in such a child (a
            # multiprocessing 'fork' worker calling asyncio.run, say) the
            # policy hands out asyncio's own loop instead of failing.
            return asyncio.SelectorEventLoop()
        return new_event_loop()


EventLoopPolicy = Policy


def install() -> None:
    """Make goloop the event loop of asyncio.get_event_loop_policy().

    Deprecated by asyncio itself from 3.14 (asyncio.set_event_loop_policy
    warns; removal planned for 3.16): prefer goloop.run() or
    asyncio.run(..., loop_factory=goloop.new_event_loop)."""
    asyncio.set_event_loop_policy(Policy())


def run(main: Coroutine[Any, Any, _T], *, debug: bool | None = None) -> _T:
    """Run coroutine `main` on a new goloop loop, like asyncio.run."""
    if asyncio._get_running_loop() is not None:
        # Checked first, as asyncio.run does: a Runner would fail later,
        # while closing, with a less helpful message.
        raise RuntimeError("goloop.run() cannot be called from a running event loop")
    if sys.version_info >= (3, 12):
        return asyncio.run(main, debug=debug, loop_factory=new_event_loop)
    if sys.version_info >= (3, 11):
        with asyncio.Runner(debug=debug, loop_factory=new_event_loop) as runner:
            return runner.run(main)
    from ._runner310 import run as run310

    return run310(main, debug=debug)
