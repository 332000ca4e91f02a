"""Which ``test.test_asyncio`` modules exist on this interpreter.

Each CPython version ships its own copy of the suite (test_taskgroups and
test_timeouts appear in 3.11, test_eager_task_factory in 3.12,
test_staggered in 3.13), so the list is read from the installed package
rather than hard-coded.  Windows/proactor-only modules are left out: they
test IOCP machinery that no Unix loop can run.
"""

from __future__ import annotations

import importlib.util
import os

PACKAGE = "test.test_asyncio"

# Modules that only make sense on Windows (the proactor tests mock IOCP).
WINDOWS_ONLY: frozenset[str] = frozenset({
    "test_windows_events",
    "test_windows_utils",
    "test_proactor_events",
})


class UnknownModule(ValueError):
    pass


def package_dir() -> str:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"{PACKAGE} is not installed for this interpreter (some distros "
            "split the test suite into a separate package)")
    return list(spec.submodule_search_locations)[0]


def available_modules() -> list[str]:
    names = []
    for entry in os.listdir(package_dir()):
        stem, ext = os.path.splitext(entry)
        if ext == ".py" and stem.startswith("test_") and stem not in WINDOWS_ONLY:
            names.append(stem)
    return sorted(names)


def normalize(name: str) -> str:
    """Accept ``tasks``, ``test_tasks`` or ``test.test_asyncio.test_tasks``."""
    name = name.strip().removesuffix(".py")
    name = name.rsplit(".", 1)[-1]
    return name if name.startswith("test_") else f"test_{name}"


def select_modules(requested: list[str] | None
                   ) -> tuple[list[str], list[str]]:
    """Return (modules to run, requested modules absent on this version).

    Absent modules are reported, not fatal, so one command line (e.g. one
    naming test_taskgroups) works on every supported interpreter.
    """
    available = available_modules()
    if not requested:
        return available, []
    chosen: list[str] = []
    missing: list[str] = []
    for raw in requested:
        name = normalize(raw)
        if name in WINDOWS_ONLY:
            raise UnknownModule(f"{name} is Windows-only and is not run")
        if name in available:
            if name not in chosen:
                chosen.append(name)
        else:
            missing.append(name)
    return chosen, missing
