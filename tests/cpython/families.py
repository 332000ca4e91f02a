"""Generate one injected variant per mixin-parametrized test family.

Why: several modules (test_events, test_sock_lowlevel, test_sendfile,
test_buffered_proto, test_server, test_sslproto) define their tests in a
mixin and instantiate it once per selector — ``EPollEventLoopTests``,
``PollEventLoopTests``, ``SelectEventLoopTests``... — each overriding a hook
(``create_event_loop`` or ``new_loop``) that builds a stdlib
``SelectorEventLoop`` directly.  Those classes never consult the policy, so
under any injection they would keep testing the stdlib loop.

A family is found, not listed: the concrete ``TestCase`` classes of a module
whose own hook constructs a ``SelectorEventLoop``, grouped by identical base
classes.  Each family gets one new class with the same bases, the test
methods every member defines itself (e.g. test_server's
``test_start_unix_server_1`` lives on the selector class, not the mixin) and
a hook that returns the injected loop.  The variant is built from the bases
rather than by subclassing a member so that it inherits no selector-specific
skip decorators.  The members are dropped from the run: they measure only
the stdlib.  The variant's name is the same for
every ``--loop`` (``Injected`` + the family name without the selector word),
so ids from a goloop run and the asyncio reference line up.

Single classes whose ``setUp`` builds ``asyncio.SelectorEventLoop()`` are
handled the same way when they only exercise the public loop API (3.14's
``test_events.UnixPipeObjectSupportTests``: pipe, FIFO, socket and tty
objects given to connect_read_pipe/connect_write_pipe): their source uses
no mock and no private ``loop._...`` attribute.  Their variant subclasses
them and runs the original ``setUp`` with ``asyncio.SelectorEventLoop``
standing for the injected loop; the others (mocked selectors, signal
internals) are left to the stdlib loop.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import types
import unittest
from typing import Callable

# The methods mixins call to obtain their loop.
HOOKS: tuple[str, ...] = ("create_event_loop", "new_loop")

# Removed from a member's name to get the family name.  Order matters:
# "EPoll" before "Poll", "Selector" before "Select".
_SELECTOR_WORD = re.compile(r"EPoll|Kqueue|Devpoll|Selector|Select|Poll")

VARIANT_PREFIX = "Injected"


@dataclasses.dataclass
class Family:
    module: str
    hook: str
    members: list[type]  # the stdlib-loop classes the variant replaces
    variant: type

    def describe(self) -> str:
        names = ", ".join(sorted(m.__name__ for m in self.members))
        return f"{self.module}.{self.variant.__name__} replaces {names}"


def _builds_selector_loop(cls: type, hook: str) -> bool:
    fn = cls.__dict__.get(hook)
    if not isinstance(fn, types.FunctionType):
        return False
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError):
        return False
    return "SelectorEventLoop" in source


def _family_name(member_names: list[str]) -> str:
    stripped = {_SELECTOR_WORD.sub("", name, count=1) for name in member_names}
    # Members of one family strip to one name; if not, fall back to the
    # alphabetically first, which is still deterministic across loops.
    base = sorted(stripped)[0] or "Tests"
    return VARIANT_PREFIX + base


def _shared_tests(members: list[type]) -> dict[str, object]:
    """Test methods defined on every member itself (not on the mixin)."""
    ordered = sorted(members, key=lambda m: m.__name__)
    common = set.intersection(*(
        {k for k in vars(m) if k.startswith("test")} for m in ordered))
    return {k: vars(ordered[0])[k] for k in sorted(common)}


def find_families(module: types.ModuleType
                  ) -> dict[tuple[tuple[type, ...], str], list[type]]:
    groups: dict[tuple[tuple[type, ...], str], list[type]] = {}
    for obj in vars(module).values():
        if not (isinstance(obj, type) and issubclass(obj, unittest.TestCase)):
            continue
        if obj.__module__ != module.__name__:
            continue
        for hook in HOOKS:
            if _builds_selector_loop(obj, hook):
                groups.setdefault((obj.__bases__, hook), []).append(obj)
                break
    return groups


def _source(obj: object) -> str:
    try:
        return inspect.getsource(obj)  # type: ignore[arg-type]
    except (OSError, TypeError):
        return ""


def find_setup_classes(module: types.ModuleType) -> list[type]:
    """Classes whose own setUp builds a SelectorEventLoop and that touch
    neither mocks nor the loop's private attributes."""
    found = []
    for obj in vars(module).values():
        if not (isinstance(obj, type) and issubclass(obj, unittest.TestCase)):
            continue
        if obj.__module__ != module.__name__:
            continue
        setup = obj.__dict__.get("setUp")
        if not isinstance(setup, types.FunctionType):
            continue
        if "SelectorEventLoop(" not in _source(setup):
            continue
        body = _source(obj)
        if "mock" in body or "loop._" in body:
            continue
        found.append(obj)
    return sorted(found, key=lambda c: c.__name__)


def _setup_variant(module: types.ModuleType, cls: type, name: str,
                   make_loop: Callable[[], object]) -> type:
    original_setup = cls.__dict__["setUp"]

    def setUp(self: unittest.TestCase) -> None:
        import asyncio

        saved = asyncio.SelectorEventLoop
        asyncio.SelectorEventLoop = make_loop  # type: ignore[misc,assignment]
        try:
            original_setup(self)
        finally:
            asyncio.SelectorEventLoop = saved  # type: ignore[misc]

    return type(name, (cls,), {
        "setUp": setUp,
        "__module__": module.__name__,
        "__qualname__": name,
        "__doc__": f"{cls.__name__} run on the injected loop (tests/cpython).",
    })


def install_variants(module: types.ModuleType,
                     make_loop: Callable[[], object]) -> list[Family]:
    """Add an injected variant class to *module* for each family found
    (and for each single class found by find_setup_classes)."""
    families: list[Family] = []
    taken: set[str] = set(vars(module))
    for cls in find_setup_classes(module):
        name = VARIANT_PREFIX + cls.__name__
        while name in taken:
            name += "_"
        taken.add(name)
        variant = _setup_variant(module, cls, name, make_loop)
        setattr(module, name, variant)
        families.append(Family(module.__name__, "setUp", [cls], variant))
    for (bases, hook), members in sorted(
            find_families(module).items(),
            key=lambda item: sorted(m.__name__ for m in item[1])):
        name = _family_name([m.__name__ for m in members])
        while name in taken:  # two families stripping to the same name
            name += "_"
        taken.add(name)

        def hook_impl(self: unittest.TestCase) -> object:
            return make_loop()

        hook_impl.__name__ = hook
        namespace = _shared_tests(members)
        namespace.update({
            hook: hook_impl,
            "__module__": module.__name__,
            "__qualname__": name,
            "__doc__": f"{'/'.join(sorted(m.__name__ for m in members))} "
                       "run on the injected loop (tests/cpython).",
        })
        variant = type(name, bases, namespace)
        setattr(module, name, variant)
        families.append(Family(module.__name__, hook, members, variant))
    return families
