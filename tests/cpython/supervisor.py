"""Run one module in a worker subprocess under a per-test watchdog.

Why: a loop under development hangs or crashes on some tests, and one bad
test must not cost the rest of its module.  The supervisor watches the
worker's event stream; when a test runs past ``test_timeout`` (or the worker
goes silent between tests for that long) it dumps the worker's stacks into
the log, kills the worker's whole process group, records the culprit as
``timeout`` and starts a new worker just after it.  A worker that dies
mid-test gets the same treatment with ``crash``.  ``module_timeout`` caps
the module as a whole so a loop that hangs everywhere still finishes.
"""

from __future__ import annotations

import dataclasses
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable

from . import protocol
from .results import ModuleRun, Outcome

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
LOG_TAIL_BYTES = 6000


class FatalWorkerError(RuntimeError):
    """The worker cannot run at all (e.g. the requested loop won't import)."""


@dataclasses.dataclass
class SupervisorConfig:
    loop: str
    test_timeout: float = 60.0
    module_timeout: float = 1800.0
    log_dir: str = ""
    match: list[str] = dataclasses.field(default_factory=list)
    python: str = sys.executable
    # Replaceable so the runner's own tests can drive a fake worker.
    worker_module: str = "tests.cpython._worker"
    # Called with each finished Outcome (for progress output).
    on_outcome: Callable[[Outcome], None] | None = None


def _module_of(test_id: str) -> str:
    return test_id.split(".", 1)[0]


def _log_tail(path: str) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - LOG_TAIL_BYTES))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def _kill_group(proc: subprocess.Popen[bytes], dump_stacks: bool) -> None:
    if dump_stacks and proc.poll() is None:
        # faulthandler in the worker writes every thread's stack to the log.
        try:
            os.kill(proc.pid, signal.SIGUSR1)
            time.sleep(1.0)
        except ProcessLookupError:
            pass
    try:
        # start_new_session made the worker a group leader: this also ends
        # the subprocesses its tests started.
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


class _ModuleState:
    """What the supervisor has learned about one module so far."""

    def __init__(self, name: str) -> None:
        self.run = ModuleRun(name)
        self.outcomes: dict[str, Outcome] = {}
        self.plan: list[str] | None = None
        self.fixture_errors: list[str] = []
        # Last test id whose fate is known (finished, timed out, crashed).
        self.position: str | None = None

    def next_planned(self) -> str | None:
        if self.plan is None:
            return None
        if self.position is None:
            index = 0
        elif self.position in self.plan:
            index = self.plan.index(self.position) + 1
        else:
            return None
        return self.plan[index] if index < len(self.plan) else None


class ModuleSupervisor:
    def __init__(self, config: SupervisorConfig, module: str) -> None:
        self.cfg = config
        self.state = _ModuleState(module)
        self.log_path = os.path.join(config.log_dir, f"{module}.log")

    # -- public -------------------------------------------------------------
    def run(self) -> tuple[ModuleRun, list[Outcome]]:
        state = self.state
        started = time.monotonic()
        deadline = started + self.cfg.module_timeout
        workdir = tempfile.mkdtemp(prefix=f"cpython-{state.run.name}-")
        try:
            while True:
                finished = self._attempt(workdir, deadline)
                if finished or state.next_planned() is None:
                    break
                if time.monotonic() >= deadline:
                    self._cap_reached()
                    break
                if state.run.restarts > len(state.plan or []) + 3:
                    # Each restart skips one more test, so this only trips
                    # if the worker's plan is not reproducible.
                    state.run.notes.append("module: too many restarts")
                    break
                state.run.restarts += 1
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        self._settle_unrun()
        state.run.duration = round(time.monotonic() - started, 2)
        return state.run, [state.outcomes[i] for i in (state.plan or [])
                           if i in state.outcomes]

    # -- one worker process -------------------------------------------------
    def _command(self) -> list[str]:
        cmd = [self.cfg.python, "-m", self.cfg.worker_module,
               "--loop", self.cfg.loop, "--module", self.state.run.name]
        if self.state.position is not None:
            cmd += ["--after", self.state.position]
        for m in self.cfg.match:
            cmd += ["--match", m]
        return cmd

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        # The worker runs in a scratch directory (tests write @test_* files
        # into the cwd), so the repo must be found through PYTHONPATH.
        paths = [REPO_ROOT] + [p for p in env.get("PYTHONPATH", "").split(
            os.pathsep) if p]
        env["PYTHONPATH"] = os.pathsep.join(paths)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _attempt(self, workdir: str, deadline: float) -> bool:
        """Run a worker until it finishes, dies or stalls.

        Returns True when the module ran to its end ("done" received).
        """
        state = self.state
        rfd, wfd = os.pipe()
        cmd = self._command() + ["--events-fd", str(wfd)]
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== {' '.join(cmd)}\n".encode())
            log.flush()
            try:
                proc = subprocess.Popen(
                    cmd, cwd=workdir, env=self._environment(),
                    stdin=subprocess.DEVNULL, stdout=log,
                    stderr=subprocess.STDOUT, pass_fds=(wfd,),
                    start_new_session=True)
            finally:
                os.close(wfd)
        reader = protocol.EventReader()
        current: str | None = None
        current_started = 0.0
        last_activity = time.monotonic()
        done = False
        pipe_open = True
        try:
            while True:
                exited = proc.poll() is not None
                if pipe_open:
                    # Once the worker is gone, only drain what is buffered:
                    # a test's grandchild may still hold the pipe open.
                    ready, _, _ = select.select([rfd], [], [],
                                                0 if exited else 0.2)
                    if ready:
                        data = os.read(rfd, 1 << 16)
                        if not data:
                            pipe_open = False
                        for event in reader.feed(data):
                            last_activity = time.monotonic()
                            kind = event["event"]
                            if kind == "start":
                                current = event["id"]
                                current_started = last_activity
                            elif kind == "result":
                                self._record_result(event)
                                current = None
                            elif kind == "done":
                                done = True
                            else:
                                self._handle_other(event)
                        if data:
                            continue
                elif not exited:
                    time.sleep(0.05)
                if exited:
                    break
                now = time.monotonic()
                stalled = now - last_activity > self.cfg.test_timeout
                if stalled or now > deadline:
                    _kill_group(proc, dump_stacks=True)
                    why = (f"no progress for {self.cfg.test_timeout:.0f}s"
                           if stalled else "module time cap reached")
                    self._blame(current, protocol.TIMEOUT,
                                f"{why}; worker log tail (stacks):\n"
                                f"{_log_tail(self.log_path)}",
                                now - current_started if current else 0.0)
                    return False
        except BaseException:
            _kill_group(proc, dump_stacks=False)
            raise
        finally:
            os.close(rfd)
        # Reap leftovers of the group (daemons started by tests).
        _kill_group(proc, dump_stacks=False)
        if done:
            return True
        code = proc.returncode
        if code == 4 and state.plan is None:
            return True  # module_error already recorded; nothing to resume
        self._blame(current, protocol.CRASH,
                    f"worker {_describe_exit(code)}; log tail:\n"
                    f"{_log_tail(self.log_path)}",
                    time.monotonic() - current_started if current else 0.0)
        return False

    # -- bookkeeping --------------------------------------------------------
    def _record_result(self, event: dict[str, Any]) -> None:
        loops = event.get("loops", {})
        outcome = Outcome(
            id=event["id"], module=self.state.run.name,
            status=event["status"], duration=event.get("duration", 0.0),
            injected=loops.get("injected", {}), other=loops.get("other", {}),
            wrong_type=loops.get("wrong_type", 0),
            detail=event.get("detail", ""))
        self.state.outcomes[outcome.id] = outcome
        self.state.position = outcome.id
        if self.cfg.on_outcome:
            self.cfg.on_outcome(outcome)

    def _handle_other(self, event: dict[str, Any]) -> None:
        state = self.state
        kind = event["event"]
        if kind == "plan":
            if state.plan is None:
                state.plan = list(event["ids"])
                state.run.planned = list(state.plan)
                state.run.families = list(event.get("families", []))
        elif kind == "fixture":
            state.fixture_errors.append(f"{event['id']}:\n{event['detail']}")
            state.run.notes.append(f"fixture error: {event['id']}")
        elif kind == "fatal":
            raise FatalWorkerError(event.get("detail", "worker failed"))
        elif kind == "module_skip":
            state.run.notes.append(f"module skipped: {event.get('detail')}")
        elif kind == "module_error":
            state.run.notes.append(
                f"module import failed:\n{event.get('detail')}")

    def _blame(self, current: str | None, status: str, detail: str,
               duration: float) -> None:
        """Charge a hang/crash to the running test (or the next one)."""
        state = self.state
        culprit = current or state.next_planned()
        if culprit is None:
            state.run.notes.append(
                f"{status} outside any test (module setup/teardown): "
                f"{detail[:2000]}")
            return
        state.run.notes.append(f"{status}: {culprit}")
        outcome = Outcome(id=culprit, module=state.run.name, status=status,
                          duration=round(duration, 2), detail=detail[-4000:])
        state.outcomes[culprit] = outcome
        state.position = culprit
        if self.cfg.on_outcome:
            self.cfg.on_outcome(outcome)

    def _cap_reached(self) -> None:
        self.state.run.notes.append(
            f"module time cap ({self.cfg.module_timeout:.0f}s) reached")

    def _settle_unrun(self) -> None:
        """Planned tests that never started: fixture failure or time cap."""
        state = self.state
        reason = ("never started: " + "\n".join(state.fixture_errors)[-3000:]
                  if state.fixture_errors else "never started")
        for test_id in state.plan or []:
            if test_id not in state.outcomes:
                state.outcomes[test_id] = Outcome(
                    id=test_id, module=state.run.name,
                    status=protocol.NOTRUN, detail=reason)
