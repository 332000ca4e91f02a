"""The parts of AbstractEventLoop goloop does not implement yet. Each raises
NotImplementedError naming the method, and the README's feature table lists
them as missing. They go away as the I/O (issue 4) and subprocess (issue 5)
engines land."""
from __future__ import annotations

from typing import Any, NoReturn

_IO: tuple[str, ...] = ()
_SUBPROCESS: tuple[str, ...] = ()

MISSING: tuple[str, ...] = _IO + _SUBPROCESS


def _missing(name: str, what: str) -> Any:
    async def method(self: Any, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotImplementedError(
            f"goloop does not implement loop.{name}() yet ({what}); "
            f"use the stdlib loop for it for now")

    method.__name__ = method.__qualname__ = name
    return method


class UnimplementedIO:
    """Placeholders for AbstractEventLoop's I/O and subprocess methods."""


for _name in _IO:
    setattr(UnimplementedIO, _name, _missing(_name, "network I/O"))
for _name in _SUBPROCESS:
    setattr(UnimplementedIO, _name, _missing(_name, "subprocesses"))
