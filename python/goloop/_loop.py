"""goloop.Loop: the asyncio event loop whose engine is Go.

The hot scheduling methods (call_soon, call_later, call_at,
call_soon_threadsafe, time, stop) and the loop iteration itself are in the
extension (`_goloop.LoopCore`, C and Go). This module adds the rest of the
AbstractEventLoop API in Python: running, closing, tasks, executors,
async generators, exception handling, debug mode, fd watchers and signal
handlers. Behaviour follows the stdlib loop exactly.
"""
from __future__ import annotations

import asyncio
import collections.abc
import concurrent.futures
import errno
import logging
import os
import signal
import sys
import threading
import traceback
import warnings
import weakref
from asyncio import base_events, coroutines, events, format_helpers, futures, tasks
from typing import Any, Awaitable, Callable, Optional

from . import _goloop
from ._format import callback_source, handle_repr
from ._resolve import Resolver
from ._sockets import SocketOps, SockFuture
from ._connections import Connections
from ._pipes import Pipes
from ._datagram import Datagrams
from ._subprocess import Subprocesses
from ._sendfile import TransportSendfile

logger = logging.getLogger("asyncio")

Handle = _goloop.Handle
TimerHandle = _goloop.TimerHandle
_goloop._set_helpers(handle_repr)
_goloop._set_sock_future(SockFuture)
# LoopCore's sock_recv/sock_recv_into/sock_sendall return a C awaitable
# (pyext/sockcall.c) and fall back on these for debug mode and unusual
# arguments; asyncio takes the awaitable for a coroutine.
_goloop._set_sock_methods(SocketOps.sock_recv, SocketOps.sock_recv_into, SocketOps.sock_sendall)
collections.abc.Coroutine.register(_goloop.SockCall)

_PY311 = sys.version_info >= (3, 11)
_PY312 = sys.version_info >= (3, 12)
_PY313 = sys.version_info >= (3, 13)
_PY314 = sys.version_info >= (3, 14)


# asyncio.iscoroutinefunction is deprecated from 3.14; the loop's checks use
# the private helper asyncio itself uses there (same answer, no warning).
_iscoroutinefunction = getattr(coroutines, "_iscoroutinefunction",
                               coroutines.iscoroutinefunction)


def _stop_when_done(fut: asyncio.Future) -> None:
    # run_until_complete's done callback. A future that ended in SystemExit
    # or KeyboardInterrupt already made run_forever() raise: stopping again
    # would leak into the next run.
    if not fut.cancelled():
        exc = fut.exception()
        if isinstance(exc, (SystemExit, KeyboardInterrupt)):
            return
    futures._get_loop(fut).stop()


def _noop_signal_handler(signum: int, frame: Any) -> None:
    """Installed for signals with a loop handler: the wake-up fd does the work."""


def _file_descriptor(fileobj: Any) -> int:
    """fd of an int or an object with fileno(), checked like selectors does."""
    if isinstance(fileobj, int):
        fd = fileobj
    else:
        try:
            fd = int(fileobj.fileno())
        except (AttributeError, TypeError, ValueError):
            raise ValueError(f"Invalid file object: {fileobj!r}") from None
    if fd < 0:
        raise ValueError(f"Invalid file descriptor: {fd}")
    return fd


_MAX_FD = 2**31 - 1  # fds are C ints


class Loop(_goloop.LoopCore, Connections, TransportSendfile, Datagrams, Pipes,
           Subprocesses, Resolver, SocketOps, asyncio.AbstractEventLoop):
    """An asyncio event loop running on goloop's Go engine."""

    def __init__(self) -> None:
        self._thread_id: Optional[int] = None
        self._exception_handler: Optional[Callable[..., Any]] = None
        self._task_factory: Optional[Callable[..., Any]] = None
        self._default_executor: Optional[concurrent.futures.ThreadPoolExecutor] = None
        self._executor_shutdown_called = False
        self._asyncgens: "weakref.WeakSet[Any]" = weakref.WeakSet()
        self._asyncgens_shutdown_called = False
        self._signal_handlers: dict[int, Any] = {}
        # fd -> the live socket transport that owns it (asyncio refuses fd
        # watchers and sock_* calls on those).
        self._transports: "weakref.WeakValueDictionary[int, Any]" = weakref.WeakValueDictionary()
        self._current_handle: Any = None
        # fd -> the file object its fd watchers were first registered with
        # (ints are not kept): remove_reader(obj) finds the registration by
        # the object once obj.fileno() is -1, as asyncio's selector does.
        self._fd_objects: dict[int, Any] = {}
        self._origin_tracking_depth: Optional[int] = None
        self._outer_wakeup_fd = -1
        self.slow_callback_duration = 0.1
        self.set_debug(coroutines._is_debug_mode())

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} running={self.is_running()} "
                f"closed={self.is_closed()} debug={self.get_debug()}>")

    # ---- running and stopping -----------------------------------------

    def is_running(self) -> bool:
        return self._thread_id is not None

    def _check_closed(self) -> None:
        if self.is_closed():
            raise RuntimeError("Event loop is closed")

    def _check_running(self) -> None:
        if self.is_running():
            raise RuntimeError("This event loop is already running")
        if events._get_running_loop() is not None:
            raise RuntimeError(
                "Cannot run the event loop while another loop is running")

    def run_forever(self) -> None:
        """Run until stop() is called."""
        self._check_fork()
        self._check_closed()
        self._check_running()
        self._set_origin_tracking(self.get_debug())
        saved_hooks = sys.get_asyncgen_hooks()
        try:
            self._thread_id = threading.get_ident()
            sys.set_asyncgen_hooks(firstiter=self._asyncgen_firstiter_hook,
                                   finalizer=self._asyncgen_finalizer_hook)
            events._set_running_loop(self)
            restore_fd = self._claim_wakeup_fd()
            try:
                self._run()
            finally:
                self._release_wakeup_fd(restore_fd)
        finally:
            self._stopping = False
            self._thread_id = None
            events._set_running_loop(None)
            self._set_origin_tracking(False)
            sys.set_asyncgen_hooks(*saved_hooks)

    def run_until_complete(self, future: Awaitable[Any]) -> Any:
        """Run until `future` is done and return its result."""
        self._check_fork()
        self._check_closed()
        self._check_running()
        new_task = not futures.isfuture(future)
        future = tasks.ensure_future(future, loop=self)
        if new_task:
            # The caller cannot see this task: don't warn it was destroyed
            # pending when run_forever is interrupted.
            future._log_destroy_pending = False
        future.add_done_callback(_stop_when_done)
        try:
            self.run_forever()
        except BaseException:
            if new_task and future.done() and not future.cancelled():
                # Mark the exception retrieved: it is being re-raised.
                future.exception()
            raise
        finally:
            future.remove_done_callback(_stop_when_done)
        if not future.done():
            raise RuntimeError("Event loop stopped before Future completed.")
        return future.result()

    def close(self) -> None:
        """Close the loop: drop pending callbacks, release every fd."""
        self._check_fork()
        if self.is_running():
            raise RuntimeError("Cannot close a running event loop")
        if self.is_closed():
            return
        if self.get_debug():
            logger.debug("Close %r", self)
        if self._signal_handlers:
            if sys.is_finalizing():
                warnings.warn(f"Closing the loop {self!r} on interpreter shutdown "
                              f"stage, skipping signal handlers removal",
                              ResourceWarning, source=self)
                self._signal_handlers.clear()
            else:
                for sig in list(self._signal_handlers):
                    self.remove_signal_handler(sig)
        self._close_core()
        self._fd_objects.clear()
        self._release_children()
        self._executor_shutdown_called = True
        executor = self._default_executor
        if executor is not None:
            self._default_executor = None
            executor.shutdown(wait=False)

    def __del__(self, _warn: Callable[..., None] = warnings.warn,
                _forked: Callable[[], bool] = _goloop._forked) -> None:
        # Defaults keep working at interpreter exit, when module globals
        # may already be None.
        if _forked():
            return
        if not self.is_closed():
            _warn(f"unclosed event loop {self!r}", ResourceWarning, source=self)
            if not self.is_running():
                self.close()

    # ---- signal wake-up fd while running --------------------------------

    def _claim_wakeup_fd(self) -> Optional[int]:
        # Python's C signal handler writes the signal number to the wake-up
        # fd, which the engine polls: a signal delivered to any thread
        # (Go's included) then interrupts the wait at once.
        if threading.main_thread().ident != threading.get_ident():
            return None
        try:
            old = signal.set_wakeup_fd(self._signal_fd, warn_on_full_buffer=False)
        except (ValueError, OSError):
            return None
        self._outer_wakeup_fd = old if old != self._signal_fd else -1
        return old

    def _release_wakeup_fd(self, old: Optional[int]) -> None:
        if old is None:
            return
        self._outer_wakeup_fd = -1
        if self._signal_handlers:
            return  # keep ours: add_signal_handler needs it
        try:
            signal.set_wakeup_fd(old)
        except (ValueError, OSError):
            pass

    def _handle_signals(self, data: bytes) -> None:
        """Called by the engine with the signal numbers read from the fd."""
        outer = self._outer_wakeup_fd
        if outer >= 0:
            try:  # pass them on to whoever owned the wake-up fd before us
                os.write(outer, data)
            except OSError:
                pass
        for signum in data:
            handle = self._signal_handlers.get(signum)
            if handle is None:
                continue
            if handle.cancelled():
                self.remove_signal_handler(signum)
            else:
                self._ready_append(handle)

    # ---- callbacks, tasks, futures -------------------------------------

    def create_future(self) -> asyncio.Future:
        return futures.Future(loop=self)

    # create_task is LoopCore's (pyext/tasks.c): it builds the Task itself
    # when there is no task factory and the loop is open and not in debug
    # mode, and calls _create_task_slow for everything else.
    if _PY314:
        def _create_task_slow(self, coro: Any, **kwargs: Any) -> asyncio.Task:
            # 3.14: every keyword (name, context, eager_start, whatever
            # comes next) goes to the task factory or to Task itself.
            self._check_closed()
            if self._task_factory is not None:
                return self._task_factory(self, coro, **kwargs)
            task = tasks.Task(coro, loop=self, **kwargs)
            if task._source_traceback:
                del task._source_traceback[-1]
            try:
                return task
            finally:
                # No frame of ours keeps the task alive through a
                # traceback of its exception (as asyncio, gh-128552).
                del task
    elif _PY311:
        def _create_task_slow(self, coro: Any, *, name: Optional[str] = None,
                              context: Any = None) -> asyncio.Task:
            self._check_closed()
            if self._task_factory is None:
                task = tasks.Task(coro, loop=self, name=name, context=context)
                if task._source_traceback:
                    del task._source_traceback[-1]
                return task
            if context is None:
                task = self._task_factory(self, coro)
            else:
                task = self._task_factory(self, coro, context=context)
            self._name_task(task, name)
            return task
    else:
        def _create_task_slow(self, coro: Any, *, name: Optional[str] = None) -> asyncio.Task:
            self._check_closed()
            if self._task_factory is None:
                task = tasks.Task(coro, loop=self, name=name)
                if task._source_traceback:
                    del task._source_traceback[-1]
                return task
            task = self._task_factory(self, coro)
            self._name_task(task, name)
            return task

    @staticmethod
    def _name_task(task: Any, name: Optional[str]) -> None:
        if _PY313:
            task.set_name(name)
        else:
            tasks._set_task_name(task, name)

    def set_task_factory(self, factory: Optional[Callable[..., Any]]) -> None:
        if factory is not None and not callable(factory):
            raise TypeError("task factory must be a callable or None")
        self._task_factory = factory

    def get_task_factory(self) -> Optional[Callable[..., Any]]:
        return self._task_factory

    def _timer_handle_cancelled(self, handle: Any) -> None:
        """asyncio.TimerHandle.cancel() calls this; goloop timers count
        their own cancellations in C, foreign ones need nothing."""

    # ---- executors -----------------------------------------------------

    def run_in_executor(self, executor: Any, func: Callable[..., Any], *args: Any) -> asyncio.Future:
        self._check_closed()
        if self.get_debug():
            self._check_callback(func, "run_in_executor")
        if executor is None:
            executor = self._default_executor
            if self._executor_shutdown_called:
                raise RuntimeError("Executor shutdown has been called")
            if executor is None:
                executor = concurrent.futures.ThreadPoolExecutor(thread_name_prefix="asyncio")
                self._default_executor = executor
        return futures.wrap_future(executor.submit(func, *args), loop=self)

    def set_default_executor(self, executor: Any) -> None:
        if not isinstance(executor, concurrent.futures.ThreadPoolExecutor):
            if _PY311:
                raise TypeError("executor must be ThreadPoolExecutor instance")
            warnings.warn("Using the default executor that is not an instance of "
                          "ThreadPoolExecutor is deprecated and will be prohibited "
                          "in Python 3.9", DeprecationWarning, 2)
        self._default_executor = executor

    # asyncio's own methods: the same steps and warning, and the thread
    # join at the end happens inside asyncio's shutdown_default_executor,
    # where detectors of blocking calls (blockbuster) accept it.
    shutdown_default_executor = base_events.BaseEventLoop.shutdown_default_executor
    _do_shutdown = base_events.BaseEventLoop._do_shutdown

    # ---- asynchronous generators --------------------------------------

    def _asyncgen_firstiter_hook(self, agen: Any) -> None:
        if self._asyncgens_shutdown_called:
            warnings.warn(f"asynchronous generator {agen!r} was scheduled after "
                          f"loop.shutdown_asyncgens() call", ResourceWarning, source=self)
        self._asyncgens.add(agen)

    def _asyncgen_finalizer_hook(self, agen: Any) -> None:
        self._asyncgens.discard(agen)
        if not self.is_closed():
            self.call_soon_threadsafe(self.create_task, agen.aclose())

    async def shutdown_asyncgens(self) -> None:
        """Close every asynchronous generator still open on this loop."""
        self._asyncgens_shutdown_called = True
        if not len(self._asyncgens):
            return
        open_agens = list(self._asyncgens)
        self._asyncgens.clear()
        results = await tasks.gather(*[ag.aclose() for ag in open_agens],
                                     return_exceptions=True)
        for result, agen in zip(results, open_agens):
            if isinstance(result, Exception):
                self.call_exception_handler({
                    "message": f"an error occurred during closing of "
                               f"asynchronous generator {agen!r}",
                    "exception": result,
                    "asyncgen": agen,
                })

    # ---- exception handling ---------------------------------------------

    def get_exception_handler(self) -> Optional[Callable[..., Any]]:
        return self._exception_handler

    def set_exception_handler(self, handler: Optional[Callable[..., Any]]) -> None:
        if handler is not None and not callable(handler):
            raise TypeError(f"A callable object or None is expected, got {handler!r}")
        self._exception_handler = handler

    def default_exception_handler(self, context: dict[str, Any]) -> None:
        """Log `context` through the 'asyncio' logger, as asyncio does."""
        message = context.get("message") or "Unhandled exception in event loop"
        exception = context.get("exception")
        exc_info: Any = False
        if exception is not None:
            exc_info = (type(exception), exception, exception.__traceback__)
        current = self._current_handle
        if ("source_traceback" not in context and current is not None
                and current._source_traceback):
            context["handle_traceback"] = current._source_traceback
        lines = [message]
        for key in sorted(context):
            if key in ("message", "exception"):
                continue
            value = context[key]
            if key == "source_traceback":
                text = "".join(traceback.format_list(value)).rstrip()
                value = "Object created at (most recent call last):\n" + text
            elif key == "handle_traceback":
                text = "".join(traceback.format_list(value)).rstrip()
                value = "Handle created at (most recent call last):\n" + text
            else:
                value = repr(value)
            lines.append(f"{key}: {value}")
        logger.error("\n".join(lines), exc_info=exc_info)

    def call_exception_handler(self, context: dict[str, Any]) -> None:
        """Pass `context` to the handler set, or to the default one."""
        if self._exception_handler is None:
            try:
                self.default_exception_handler(context)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException:
                logger.error("Exception in default exception handler", exc_info=True)
            return
        try:
            ctx = self._context_of(context) if _PY312 else None
            if ctx is not None:
                ctx.run(self._exception_handler, self, context)
            else:
                self._exception_handler(self, context)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            try:
                self.default_exception_handler({
                    "message": "Unhandled error in exception handler",
                    "exception": exc,
                    "context": context,
                })
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException:
                logger.error("Exception in default exception handler while "
                             "handling an unexpected error in custom exception "
                             "handler", exc_info=True)

    @staticmethod
    def _context_of(context: dict[str, Any]) -> Any:
        # 3.12+: the custom handler runs in the context of the task, future
        # or handle the report is about.
        for key in ("task", "future", "handle"):
            thing = context.get(key)
            if thing is not None:
                get = getattr(thing, "get_context", None)
                ctx = get() if get is not None else None
                return ctx if hasattr(ctx, "run") else None
        return None

    def _report_callback_error(self, handle: Any, exc: BaseException) -> None:
        """Called by the C run loop when a callback raised `exc`."""
        source = callback_source(handle._callback, handle._args, self.get_debug())
        context: dict[str, Any] = {
            "message": f"Exception in callback {source}",
            "exception": exc,
            "handle": handle,
        }
        if handle._source_traceback:
            context["source_traceback"] = handle._source_traceback
        self.call_exception_handler(context)

    # ---- debug mode ------------------------------------------------------

    def set_debug(self, enabled: bool) -> None:
        self._debug = bool(enabled)
        if self.is_running():
            self.call_soon_threadsafe(self._set_origin_tracking, self._debug)

    def _set_origin_tracking(self, enabled: bool) -> None:
        if bool(enabled) == bool(self._origin_tracking_depth is not None):
            return
        if enabled:
            self._origin_tracking_depth = sys.get_coroutine_origin_tracking_depth()
            sys.set_coroutine_origin_tracking_depth(
                max(self._origin_tracking_depth, coroutines._DEBUG_STACK_DEPTH
                    if hasattr(coroutines, "_DEBUG_STACK_DEPTH") else 10))
        else:
            sys.set_coroutine_origin_tracking_depth(self._origin_tracking_depth or 0)
            self._origin_tracking_depth = None

    def _check_thread(self) -> None:
        if self._thread_id is None:
            return
        if threading.get_ident() != self._thread_id:
            raise RuntimeError("Non-thread-safe operation invoked on an event loop "
                               "other than the current one")

    @staticmethod
    def _check_callback(callback: Any, method: str) -> None:
        if coroutines.iscoroutine(callback) or _iscoroutinefunction(callback):
            raise TypeError(f"coroutines cannot be used with {method}()")
        if not callable(callback):
            raise TypeError(f"a callable object was expected by {method}(), "
                            f"got {callback!r}")

    def _debug_check(self, callback: Any, method: str) -> None:
        """Debug-mode checks of call_soon & co (called from C)."""
        if method != "call_soon_threadsafe":
            self._check_thread()
        self._check_callback(callback, method)

    def _debug_attach(self, handle: Any) -> None:
        """Debug mode: remember where the handle was created (from C)."""
        # asyncio's helper: at most DEBUG_STACK_DEPTH frames and no source
        # lines read (the file reads would block the loop thread).
        handle._source_traceback = format_helpers.extract_stack(sys._getframe(1))

    def _log_slow_callback(self, handle: Any, took: float) -> None:
        """Debug mode: a callback ran longer than slow_callback_duration."""
        logger.warning("Executing %s took %.3f seconds", _describe(handle), took)

    # ---- fd watchers -------------------------------------------------------

    def _watch_fd(self, fileobj: Any, write: bool, callback: Callable[..., Any],
                  args: tuple[Any, ...]) -> Any:
        fd = _file_descriptor(fileobj)
        self._check_closed()
        handle = self._make_handle(callback, args, None)
        if self.get_debug():
            self._debug_attach(handle)
        new = self._watch_mask(fd) == 0
        previous = self._watch(fd, write, handle)
        if new:  # a new registration: remember what it was made with
            if isinstance(fileobj, int):
                self._fd_objects.pop(fd, None)
            else:
                self._fd_objects[fd] = fileobj
        if previous is not None:
            previous.cancel()
        return handle

    def _unwatch_fd(self, fileobj: Any, write: bool) -> bool:
        if self.is_closed():
            return False  # asyncio's answer, before looking at fileobj
        try:
            fd = _file_descriptor(fileobj)
        except ValueError:
            # A socket closed since it was registered (fileno() is -1):
            # asyncio's selector finds the registration by the object.
            for fd, obj in self._fd_objects.items():
                if obj is fileobj:
                    break
            else:
                raise
        if fd > _MAX_FD:
            return False  # nothing that large was ever watched (asyncio: False)
        previous = self._unwatch(fd, write)
        if previous is None:
            return False
        previous.cancel()
        if self._watch_mask(fd) == 0:
            self._fd_objects.pop(fd, None)
        return True

    def _ensure_fd_no_transport(self, fd: Any) -> None:
        fileno = fd
        if not isinstance(fileno, int):
            try:
                fileno = int(fileno.fileno())
            except (AttributeError, TypeError, ValueError):
                raise ValueError(f"Invalid file object: {fd!r}") from None
        transport = self._transports.get(fileno)
        if transport is not None and not transport.is_closing():
            raise RuntimeError(f"File descriptor {fd!r} is used by transport {transport!r}")

    def add_reader(self, fd: Any, callback: Callable[..., Any], *args: Any) -> None:
        self._ensure_fd_no_transport(fd)
        self._check_closed()
        self._watch_fd(fd, False, callback, args)

    def remove_reader(self, fd: Any) -> bool:
        self._ensure_fd_no_transport(fd)
        return self._unwatch_fd(fd, False)

    def add_writer(self, fd: Any, callback: Callable[..., Any], *args: Any) -> None:
        self._ensure_fd_no_transport(fd)
        self._check_closed()
        self._watch_fd(fd, True, callback, args)

    def remove_writer(self, fd: Any) -> bool:
        self._ensure_fd_no_transport(fd)
        return self._unwatch_fd(fd, True)

    # The selector loop's private spellings, which some asyncio helpers
    # (e.g. PidfdChildWatcher) call on whatever loop they are given.
    def _add_reader(self, fd: Any, callback: Callable[..., Any], *args: Any) -> Any:
        return self._watch_fd(fd, False, callback, args)

    def _add_writer(self, fd: Any, callback: Callable[..., Any], *args: Any) -> Any:
        return self._watch_fd(fd, True, callback, args)

    def _remove_reader(self, fd: Any) -> bool:
        return self._unwatch_fd(fd, False)

    def _remove_writer(self, fd: Any) -> bool:
        return self._unwatch_fd(fd, True)

    # ---- signal handlers ----------------------------------------------------

    @staticmethod
    def _check_signal(sig: Any) -> None:
        if not isinstance(sig, int):
            raise TypeError(f"sig must be an int, not {sig!r}")
        if sig not in signal.valid_signals():
            raise ValueError(f"invalid signal number {sig}")

    def add_signal_handler(self, sig: int, callback: Callable[..., Any], *args: Any) -> None:
        """Run callback(*args) on the loop when signal `sig` arrives."""
        if coroutines.iscoroutine(callback) or _iscoroutinefunction(callback):
            raise TypeError("coroutines cannot be used with add_signal_handler()")
        self._check_signal(sig)
        self._check_closed()
        try:
            # Raises ValueError when not in the main thread.
            signal.set_wakeup_fd(self._signal_fd)
        except (ValueError, OSError) as exc:
            raise RuntimeError(str(exc))
        handle = self._make_handle(callback, args, None)
        self._signal_handlers[sig] = handle
        try:
            signal.signal(sig, _noop_signal_handler)
            signal.siginterrupt(sig, False)
        except OSError as exc:
            del self._signal_handlers[sig]
            if not self._signal_handlers:
                try:
                    signal.set_wakeup_fd(-1)
                except (ValueError, OSError) as nexc:
                    logger.info("set_wakeup_fd(-1) failed: %s", nexc)
            if exc.errno == errno.EINVAL:
                raise RuntimeError(f"sig {sig:d} cannot be caught")
            raise

    def remove_signal_handler(self, sig: int) -> bool:
        """Remove the handler of `sig`; True if there was one."""
        self._check_signal(sig)
        try:
            del self._signal_handlers[sig]
        except KeyError:
            return False
        default = signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL
        try:
            signal.signal(sig, default)
        except OSError as exc:
            if exc.errno == errno.EINVAL:
                raise RuntimeError(f"sig {sig:d} cannot be caught")
            raise
        if not self._signal_handlers:
            try:
                signal.set_wakeup_fd(-1)
            except (ValueError, OSError) as exc:
                logger.info("set_wakeup_fd(-1) failed: %s", exc)
        return True


Loop.__module__ = "goloop"


def _describe(handle: Any) -> str:
    # A task's step is better described by the task.
    owner = getattr(handle._callback, "__self__", None)
    if isinstance(owner, tasks.Task):
        return repr(owner)
    return str(handle)
