"""The event loops the runner can measure, and how each one is built.

A *flavor* bundles the three things the injection needs for one loop
implementation: the policy class users install, a factory that returns a
fresh loop (for the mixin families that bypass the policy), and the loop
type(s) a loop made by that flavor must be an instance of.

Why a table instead of ``importlib.import_module(name)``: each library
exposes these under different names, and the asyncio flavor must capture
the *original* ``asyncio.DefaultEventLoopPolicy`` before the injection
replaces that name.  Importing is done here, eagerly and loudly: asking for
``goloop`` when goloop cannot be imported must stop the run, never fall
back to another loop.
"""

from __future__ import annotations

import asyncio
import asyncio.unix_events
import dataclasses
from typing import Any, Callable

FLAVOR_NAMES: tuple[str, ...] = ("goloop", "asyncio", "uvloop")


class FlavorUnavailable(RuntimeError):
    """The requested loop library cannot be imported or lacks the API."""


@dataclasses.dataclass(frozen=True)
class Flavor:
    name: str
    version: str
    # The policy class users install (base of the injected policy).
    policy_class: type
    # Builds one new loop without going through any policy.
    new_loop: Callable[[], asyncio.AbstractEventLoop]
    # Every loop the injection hands out must be an instance of one of these;
    # otherwise the test measured some other loop and cannot count as a pass.
    loop_types: tuple[type, ...]

    def owns(self, loop: object) -> bool:
        return isinstance(loop, self.loop_types)


def _require(module: object, attr: str, flavor: str) -> Any:
    try:
        return getattr(module, attr)
    except AttributeError as exc:
        raise FlavorUnavailable(
            f"--loop {flavor}: {module!r} has no attribute {attr!r}") from exc


def _goloop() -> Flavor:
    try:
        import goloop  # type: ignore[import-not-found,unused-ignore]
    except Exception as exc:  # ImportError, or a crash in the extension init
        raise FlavorUnavailable(
            f"--loop goloop: cannot import goloop ({type(exc).__name__}: "
            f"{exc}); build/install it first (e.g. `pip install -e .`)"
        ) from exc
    policy = _require(goloop, "Policy", "goloop")
    new_loop = _require(goloop, "new_event_loop", "goloop")
    loop_type = _require(goloop, "Loop", "goloop")
    return Flavor("goloop", str(getattr(goloop, "__version__", "?")),
                  policy, new_loop, (loop_type,))


def _uvloop() -> Flavor:
    try:
        import uvloop  # type: ignore[import-not-found,unused-ignore]
    except Exception as exc:
        raise FlavorUnavailable(
            f"--loop uvloop: cannot import uvloop ({exc}); "
            "`python -m pip install uvloop`") from exc
    # EventLoopPolicy is what `uvloop.install()` installs: measuring uvloop
    # "the way users install it" means using its own policy, limits included.
    policy = _require(uvloop, "EventLoopPolicy", "uvloop")
    return Flavor("uvloop", str(getattr(uvloop, "__version__", "?")), policy,
                  uvloop.new_event_loop, (uvloop.Loop,))


def _asyncio() -> Flavor:
    import platform

    # Captured before inject.py rebinds the default policy's names; on 3.14+
    # the public name is a deprecated alias of the private one.
    policy = getattr(asyncio.unix_events, "_DefaultEventLoopPolicy", None)
    if policy is None:
        policy = asyncio.DefaultEventLoopPolicy
    # The class asyncio.new_event_loop() returns under the stock policy
    # (_UnixSelectorEventLoop on Linux), so reference ids line up with the
    # injected mixin variants of the other flavors.
    factory: Callable[[], asyncio.AbstractEventLoop] = asyncio.SelectorEventLoop
    return Flavor("asyncio", platform.python_version(), policy, factory,
                  (asyncio.SelectorEventLoop,))


_LOADERS: dict[str, Callable[[], Flavor]] = {
    "goloop": _goloop,
    "uvloop": _uvloop,
    "asyncio": _asyncio,
}


def load_flavor(name: str) -> Flavor:
    """Import the loop library *name*; raise FlavorUnavailable if impossible."""
    try:
        loader = _LOADERS[name]
    except KeyError:
        raise FlavorUnavailable(
            f"unknown loop {name!r}; choose from {', '.join(FLAVOR_NAMES)}"
        ) from None
    return loader()
