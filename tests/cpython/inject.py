"""Make every policy-created loop the chosen loop, and count loops by type.

Why this exists: installing a policy once and running ``test.test_asyncio``
measures almost nothing, because the suite keeps resetting the policy —
every module's ``tearDownModule`` calls ``set_event_loop_policy(None)``,
``test_runners`` does it in ``tearDown``, and ``PolicyTests`` installs a
fresh ``asyncio.DefaultEventLoopPolicy()`` and leaves it there.  All of those
end up instantiating whatever ``asyncio.DefaultEventLoopPolicy`` names (the
lazy default is created by ``from . import DefaultEventLoopPolicy`` inside
``asyncio.events``).  So we rebind that name to a subclass of the chosen
flavor's policy, and every reset lands back on the chosen loop.

3.14 deprecated the policy API and its suite goes around the public names:
the lazy default is ``asyncio.unix_events._DefaultEventLoopPolicy``, the
modules reset it with ``asyncio.events._set_event_loop_policy(None)``, and
tests pass ``loop_factory=asyncio.EventLoop`` or call ``asyncio.EventLoop()``.
So every name the running version resolves is rebound: the private default
where it exists, the public one where it is a plain attribute (on 3.14+ it
is a module ``__getattr__`` that warns, which the suite checks, and that
already resolves the private name), and ``asyncio.EventLoop`` (3.13+) to a
stand-in class whose construction hands out the injected loop.

Proof is kept rather than assumed: a :class:`LoopLedger` counts, per test,
the loops handed out through the injected policy/factory (by type, flagging
any that are not of the flavor's loop type) and every stdlib
``BaseEventLoop`` constructed at all.  A test that created no injected loop
did not exercise the chosen loop, whatever its outcome.
"""

from __future__ import annotations

import asyncio
import asyncio.base_events
import asyncio.unix_events
import collections
import dataclasses
import functools
import threading
from typing import Any, Callable

from .flavors import Flavor


def reset_policy() -> None:
    """Back to no policy, without the deprecation warning 3.14+ attaches to
    the public setter (the tests use the private one too)."""
    setter = getattr(asyncio.events, "_set_event_loop_policy",
                     asyncio.set_event_loop_policy)
    setter(None)


def type_key(obj: object) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


@dataclasses.dataclass
class LoopCounts:
    """Loops created while one test ran (JSON-friendly)."""

    # Loops handed out by the injected policy or mixin-variant factory.
    injected: dict[str, int]
    # Stdlib BaseEventLoop instances created any other way (TestLoop,
    # loops the test constructs itself, loops of a policy the test installs).
    other: dict[str, int]
    # Injected loops that are NOT of the flavor's loop type: the policy under
    # test handed out some other loop, so a "pass" would prove nothing.
    wrong_type: int = 0

    @property
    def total_injected(self) -> int:
        return sum(self.injected.values())


class LoopLedger:
    """Thread-safe counters, reset between tests by the worker."""

    def __init__(self, flavor: Flavor) -> None:
        self._flavor = flavor
        self._lock = threading.Lock()
        self._injected: collections.Counter[str] = collections.Counter()
        self._constructed: collections.Counter[str] = collections.Counter()
        self._wrong_type = 0

    def record_injected(self, loop: object) -> None:
        with self._lock:
            self._injected[type_key(loop)] += 1
            if not self._flavor.owns(loop):
                self._wrong_type += 1

    def record_constructed(self, loop: object) -> None:
        with self._lock:
            self._constructed[type_key(loop)] += 1

    def take(self) -> LoopCounts:
        """Return the counts since the last take() and start afresh.

        Counting runs from one test's end to the next test's end, so loops
        made by setUpClass/setUpModule are charged to the first test that
        follows them, which is the test that uses them.
        """
        with self._lock:
            # Injected stdlib loops also went through BaseEventLoop.__init__;
            # Counter subtraction leaves only the ones made some other way.
            other = self._constructed - self._injected
            counts = LoopCounts(dict(self._injected), dict(other),
                                self._wrong_type)
            self._injected.clear()
            self._constructed.clear()
            self._wrong_type = 0
        return counts


class Injection:
    """Installs the chosen flavor as asyncio's default, for a whole worker."""

    def __init__(self, flavor: Flavor) -> None:
        self.flavor = flavor
        self.ledger = LoopLedger(flavor)
        self.policy_class = self._make_policy_class()
        self._installed = False

    def _make_policy_class(self) -> type:
        ledger = self.ledger

        class InjectedEventLoopPolicy(self.flavor.policy_class):  # type: ignore[name-defined,misc]
            # Only new_event_loop is wrapped: the stdlib policy's
            # get_event_loop() and asyncio.new_event_loop()/run()/Runner/
            # IsolatedAsyncioTestCase all create loops through it, so the
            # chosen policy's behaviour is otherwise left untouched.
            def new_event_loop(self) -> asyncio.AbstractEventLoop:
                loop: asyncio.AbstractEventLoop = super().new_event_loop()
                ledger.record_injected(loop)
                return loop

        InjectedEventLoopPolicy.__qualname__ = (
            f"InjectedEventLoopPolicy[{self.flavor.name}]")
        return InjectedEventLoopPolicy

    def new_loop(self) -> asyncio.AbstractEventLoop:
        """Factory for the mixin-family variants (which bypass the policy)."""
        loop: asyncio.AbstractEventLoop = self.flavor.new_loop()
        self.ledger.record_injected(loop)
        return loop

    def install(self) -> None:
        if self._installed:
            return
        self._installed = True
        # Rebind every name the stdlib and the tests resolve at call time.
        for module in (asyncio, asyncio.unix_events):
            # A plain attribute up to 3.13; from 3.14 asyncio's is a
            # deprecated __getattr__ name (resolving the private one below).
            if "DefaultEventLoopPolicy" in vars(module):
                setattr(module, "DefaultEventLoopPolicy", self.policy_class)
        if hasattr(asyncio.unix_events, "_DefaultEventLoopPolicy"):  # 3.14+
            setattr(asyncio.unix_events, "_DefaultEventLoopPolicy",
                    self.policy_class)
        if hasattr(asyncio, "EventLoop"):  # 3.13+
            stand_in = self._make_event_loop_class()
            setattr(asyncio, "EventLoop", stand_in)
            setattr(asyncio.unix_events, "EventLoop", stand_in)
        self._hook_base_event_loop()
        reset_policy()

    def _make_event_loop_class(self) -> type:
        """``asyncio.EventLoop`` for the run: calling it makes the injected
        loop, isinstance() answers for the flavor's loop type."""
        injection = self

        class _InjectedEventLoopMeta(type):
            def __call__(cls) -> asyncio.AbstractEventLoop:  # type: ignore[override]
                return injection.new_loop()

            def __instancecheck__(cls, obj: object) -> bool:
                return injection.flavor.owns(obj)

        class EventLoop(metaclass=_InjectedEventLoopMeta):
            pass

        EventLoop.__qualname__ = f"InjectedEventLoop[{self.flavor.name}]"
        return EventLoop

    def _hook_base_event_loop(self) -> None:
        base = asyncio.base_events.BaseEventLoop
        original: Callable[..., None] = base.__init__
        ledger = self.ledger

        @functools.wraps(original)
        def counting_init(loop: Any, *args: Any, **kwargs: Any) -> None:
            ledger.record_constructed(loop)
            original(loop, *args, **kwargs)

        setattr(base, "__init__", counting_init)

    def begin_test(self) -> None:
        """Give each test the state of a fresh interpreter: no policy yet.

        The next get_event_loop_policy() instantiates the (rebound) default,
        i.e. the injected policy.  Resetting per test also makes a resumed
        worker (after a hang or crash) start from the same state.
        """
        reset_policy()

    def end_test(self) -> LoopCounts:
        return self.ledger.take()
