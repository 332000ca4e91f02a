"""subprocess_exec / subprocess_shell: asyncio's own methods over goloop's
_make_subprocess_transport. Children are started by Python's own
subprocess.Popen (its C fork/exec runs no Go code between fork and exec,
and it keeps every Popen keyword's semantics). Each child is watched with a
pidfd (os.pidfd_open) on the Go poller: no SIGCHLD handler, and no child
goloop did not start is ever reaped. The transport is asyncio's
BaseSubprocessTransport, so the protocol sees asyncio's callback order."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from asyncio import base_events, base_subprocess
from typing import Any


class SubprocessTransport(base_subprocess.BaseSubprocessTransport):
    """asyncio's subprocess transport over a subprocess.Popen child."""

    def _start(self, args: Any, shell: bool, stdin: Any, stdout: Any, stderr: Any,
               bufsize: int, **kwargs: Any) -> None:
        self._proc = subprocess.Popen(args, shell=shell, stdin=stdin, stdout=stdout,
                                      stderr=stderr, universal_newlines=False,
                                      bufsize=bufsize, **kwargs)


def _exit_code(status: int) -> int:
    return os.waitstatus_to_exitcode(status)


def _reaped_code(transport: "SubprocessTransport") -> int:
    """The exit code of a child that waitpid() no longer knows: Popen's own
    poll() (run by kill(), terminate(), send_signal(), close()) may have
    reaped it and kept its status; else 255, as asyncio reports."""
    proc = getattr(transport, "_proc", None)
    code = getattr(proc, "returncode", None)
    return code if isinstance(code, int) else 255


class Subprocesses:
    """Mixin of goloop.Loop: child processes."""

    # The public methods are asyncio's own (base_events.BaseEventLoop's):
    # the same argument checks and debug logging, and the child is spawned
    # inside them, through the hook every asyncio loop implements,
    # _make_subprocess_transport, exactly as on the stdlib loop. That spawn
    # blocks the loop thread for a moment on both loops (Popen reads its
    # error pipe until the child has exec'd); detectors of blocking calls
    # (blockbuster) accept that read when asyncio's subprocess_exec or
    # subprocess_shell is on the stack, and now it is, on goloop too.
    subprocess_exec = base_events.BaseEventLoop.subprocess_exec
    subprocess_shell = base_events.BaseEventLoop.subprocess_shell
    _log_subprocess = base_events.BaseEventLoop._log_subprocess

    async def _make_subprocess_transport(self, protocol: Any, args: Any, shell: bool,
                                         stdin: Any, stdout: Any, stderr: Any, bufsize: int,
                                         extra: Any = None, **kwargs: Any) -> SubprocessTransport:
        watcher = _explicit_child_watcher()
        if watcher is None:
            transport = self._start_child(protocol, args, shell, stdin, stdout, stderr, bufsize,
                                          extra, kwargs)
            self._watch_child(transport)
        else:
            # A child watcher set through asyncio's (deprecated) API is
            # honoured exactly as asyncio does.
            with watcher as entered:
                if sys.version_info < (3, 12):
                    watcher = entered  # 3.10/3.11 use what __enter__ returns
                if not watcher.is_active():
                    raise RuntimeError("asyncio.get_child_watcher() is not activated, "
                                       "subprocess support is not installed.")
                transport = self._start_child(protocol, args, shell, stdin, stdout, stderr,
                                              bufsize, extra, kwargs)
                watcher.add_child_handler(transport.get_pid(), self._child_watcher_callback, transport)
        return await self._child_started(transport)

    def _start_child(self, protocol: Any, args: Any, shell: bool, stdin: Any, stdout: Any,
                     stderr: Any, bufsize: int, extra: Any, kwargs: dict) -> SubprocessTransport:
        waiter = self.create_future()  # type: ignore[attr-defined]
        transport = SubprocessTransport(self, protocol, args, shell, stdin, stdout, stderr,
                                        bufsize, waiter=waiter, extra=extra, **kwargs)
        transport._goloop_waiter = waiter
        return transport

    def _child_watcher_callback(self, pid: int, returncode: int, transport: Any) -> None:
        if not self.is_closed():  # type: ignore[attr-defined]
            self.call_soon_threadsafe(_report_exit, transport, returncode)  # type: ignore[attr-defined]

    async def _child_started(self, transport: SubprocessTransport) -> SubprocessTransport:
        waiter = transport._goloop_waiter
        del transport._goloop_waiter
        try:
            await waiter
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException:
            transport.close()
            if sys.version_info >= (3, 14):
                # A second cancellation must not leave the child unwaited.
                await asyncio.shield(transport._wait())
            else:
                await transport._wait()
            raise
        return transport

    def _watch_child(self, transport: SubprocessTransport) -> None:
        pid = transport.get_pid()
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self._reap_in_thread(transport, pid)
            return

        def exited() -> None:
            self._children.pop(pid, None)
            handle.cancel()
            self._unwatch(pidfd, False, handle)  # type: ignore[attr-defined]
            os.close(pidfd)
            try:
                _, status = os.waitpid(pid, 0)
                code = _exit_code(status)
            except ChildProcessError:
                code = _reaped_code(transport)
            _report_exit(transport, code)

        handle = self._make_handle(exited, (), None)  # type: ignore[attr-defined]
        self._watch(pidfd, False, handle)  # type: ignore[attr-defined]
        self._children[pid] = pidfd

    @property
    def _children(self) -> dict[int, int]:
        """pid -> pidfd of the children this loop still watches."""
        children = getattr(self, "_watched_children", None)
        if children is None:
            children = self._watched_children = {}
        return children

    def _release_children(self) -> None:
        """At close: children still running are reaped by a thread each
        when they exit, so none is left a zombie."""
        for pid, pidfd in list(self._children.items()):
            os.close(pidfd)
            threading.Thread(target=_reap, args=(pid,), name=f"goloop-reap-{pid}",
                             daemon=True).start()
        self._children.clear()

    def _reap_in_thread(self, transport: SubprocessTransport, pid: int) -> None:
        # Kernels without pidfd_open (< 5.3): wait for this one pid only.
        def wait() -> None:
            try:
                _, status = os.waitpid(pid, 0)
                code = _exit_code(status)
            except ChildProcessError:
                code = _reaped_code(transport)
            if not self.is_closed():  # type: ignore[attr-defined]
                self.call_soon_threadsafe(_report_exit, transport, code)  # type: ignore[attr-defined]

        threading.Thread(target=wait, name=f"goloop-waitpid-{pid}", daemon=True).start()


def _explicit_child_watcher() -> Any:
    """The child watcher set with asyncio.set_child_watcher(), or None
    (always from 3.14, which removed child watchers)."""
    if sys.version_info >= (3, 14):
        return None
    policy = asyncio.get_event_loop_policy()
    return getattr(policy, "_watcher", None)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _report_exit(transport: SubprocessTransport, code: int) -> None:
    if transport._returncode is None:
        transport._process_exited(code)

