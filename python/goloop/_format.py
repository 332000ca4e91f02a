"""How goloop describes handles, in asyncio's words: the repr of Handle and
TimerHandle, and the text of "Exception in callback ..." reports."""
from __future__ import annotations

import sys
from asyncio import format_helpers
from typing import Any


def callback_source(callback: Any, args: Any, debug: bool = False) -> str:
    """`func(args) at file:line`, as asyncio prints a callback."""
    if sys.version_info >= (3, 13):
        return format_helpers._format_callback_source(callback, args, debug=debug)
    return format_helpers._format_callback_source(callback, args)


def handle_repr(handle: Any) -> str:
    """repr() of a goloop Handle/TimerHandle, same layout as asyncio's."""
    cached = handle._repr
    if cached is not None:
        return cached
    parts = [type(handle).__name__]
    if handle._cancelled:
        parts.append("cancelled")
    if hasattr(handle, "_when"):
        parts.insert(2 if handle._cancelled else 1, f"when={handle._when}")
    if handle._callback is not None:
        loop = handle._loop
        debug = bool(loop is not None and loop.get_debug())
        parts.append(callback_source(handle._callback, handle._args, debug))
    tb = handle._source_traceback
    if tb:
        frame = tb[-1]
        parts.append(f"created at {frame[0]}:{frame[1]}")
    return "<{}>".format(" ".join(parts))
