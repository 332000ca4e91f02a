"""A server process seen from the runner (bench/servers.py, or the C floor
bench/floor/echo_floor.c, which speaks the same control protocol): start
it, read its CPU time over the control channel, stop it, and keep its
stderr for reports."""
from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from typing import Any

from .env import BENCH


class ServerError(RuntimeError):
    """The server did not start, answer or stop as it should."""


def servers_py(loop: str, mode: str) -> list[str]:
    return [sys.executable, str(BENCH / "servers.py"), "--loop", loop, "--mode", mode, "--port", "0"]


class Server:
    """`loop` and `mode` name the server in reports; `command` defaults to
    bench/servers.py under that loop in that mode."""

    def __init__(self, loop: str, mode: str, env: dict[str, str],
                 command: list[str] | None = None) -> None:
        self.loop, self.mode = loop, mode
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            command or servers_py(loop, mode),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, env=env)
        self.pending = b""
        self.port = 0
        self.pid = self.proc.pid

    def wait_ready(self, timeout: float = 30.0) -> None:
        hello = self._read_line(timeout)
        if not hello.get("ready"):
            raise ServerError(f"unexpected first line {hello!r}")
        self.port = int(hello["port"])

    def _read_line(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in self.pending:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise ServerError(f"no answer within {timeout:.0f} s{self._tail()}")
                chunk = os.read(fd, 65536)
                if not chunk:
                    self.proc.wait(5)
                    raise ServerError(f"exited with status {self.proc.returncode}{self._tail()}")
                self.pending += chunk
        line, _, self.pending = self.pending.partition(b"\n")
        try:
            answer: dict[str, Any] = json.loads(line)
        except ValueError as exc:
            raise ServerError(f"bad control line {line[:200]!r}") from exc
        return answer

    def _send(self, command: str) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(command.encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError) as exc:
            raise ServerError(f"control channel closed ({exc}){self._tail()}") from exc

    def cpu(self) -> dict[str, float]:
        """Resource usage of the whole server process (all threads)."""
        self._send("cpu")
        usage = self._read_line(10.0)
        return {k: float(v) for k, v in usage.items()}

    def _tail(self, limit: int = 1500) -> str:
        self.stderr.seek(0)
        text = self.stderr.read().decode(errors="replace").strip()
        return f"; stderr: {text[-limit:]}" if text else ""

    def stderr_text(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace").strip()

    def stop(self) -> str | None:
        """Stop the server; a problem on the way out is returned, not raised."""
        problem = None
        if self.proc.poll() is None:
            try:
                self._send("quit")
                self.proc.wait(10)
            except (ServerError, subprocess.TimeoutExpired) as exc:
                problem = f"did not stop on 'quit' ({exc}): killed"
                self.proc.kill()
                self.proc.wait()
        if self.proc.returncode not in (0, None) and problem is None:
            problem = f"exited with status {self.proc.returncode}"
        text = self.stderr_text()
        if text:
            problem = (problem + "; " if problem else "") + f"stderr: {text[-1500:]}"
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()
        self.stderr.close()
        return problem


def start_servers(loops: list[str], mode: str, env: dict[str, str]) -> dict[str, Server | str]:
    """Start one server per loop at once; a failure is kept as its text."""
    return wait_ready({loop: Server(loop, mode, env) for loop in loops})


def wait_ready(launched: dict[str, Server]) -> dict[str, Server | str]:
    """Wait for each launched server's ready line; a failure is kept as its text."""
    started: dict[str, Server | str] = {}
    for name, server in launched.items():
        try:
            server.wait_ready()
            started[name] = server
        except ServerError as exc:
            server.stop()
            started[name] = f"{name} {server.mode} server failed to start: {exc}"
    return started


def cpu_seconds(before: dict[str, float], after: dict[str, float]) -> float:
    return (after["utime"] + after["stime"]) - (before["utime"] + before["stime"])


def stop_noting(server: Server, notes: list[str]) -> None:
    """Stop a server; anything odd on the way out goes into `notes`."""
    problem = server.stop()
    if problem:
        notes.append(f"{server.loop} {server.mode} server: {problem}")
