"""The line protocol between a worker and its supervisor.

Why a dedicated pipe and not the worker's stdout: the tests under run print
freely (and their subprocesses inherit stdout), so test output would corrupt
the stream.  The worker gets its own file descriptor and writes one JSON
object per line:

    {"event": "plan", "ids": [...]}                 full, ordered test list
    {"event": "start", "id": ...}                   a test begins
    {"event": "result", "id": ..., "status": ..., "duration": ...,
     "loops": {...}, "detail": ...}                 a test ended
    {"event": "fixture", "id": ..., "detail": ...}  setUpClass/Module error
    {"event": "fatal", "detail": ...}               the worker cannot work
                                                    (e.g. the loop import)
    {"event": "done"}                               the module finished

The supervisor only trusts "result"; a "start" with no "result" before the
worker dies or stalls is how hangs and crashes are detected.
"""

from __future__ import annotations

import json
import os
from typing import Any, Iterator

# Outcome statuses.  Only "pass" can count as passing.
PASS = "pass"
FAIL = "fail"
ERROR = "error"
SKIP = "skip"
TIMEOUT = "timeout"
CRASH = "crash"
NOTRUN = "notrun"  # planned but never started (fixture failed, module cap)
STATUSES = (PASS, FAIL, ERROR, SKIP, TIMEOUT, CRASH, NOTRUN)


class EventWriter:
    def __init__(self, fd: int) -> None:
        self._fd = fd

    def send(self, event: str, **fields: Any) -> None:
        fields["event"] = event
        data = (json.dumps(fields, separators=(",", ":")) + "\n").encode()
        # os.write may write partially on a pipe for large payloads.
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]


class EventReader:
    """Incrementally splits bytes read from the pipe into events."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> Iterator[dict[str, Any]]:
        self._buffer += data
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a forked test child scribbling on the fd
            if isinstance(event, dict) and "event" in event:
                yield event
