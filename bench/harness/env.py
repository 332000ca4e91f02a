"""The environment every server and micro-benchmark process runs under, and
a description of the machine and settings recorded next to the numbers."""
from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent.parent
REPO = BENCH.parent

# glibc serves a malloc above M_MMAP_THRESHOLD with a fresh mmap and gives the
# top of the heap back above M_TRIM_THRESHOLD: the stdlib transports' 256 KiB
# recv buffers would then cost an mmap/munmap (or brk) pair per receive.
# Fixing both thresholds well above 256 KiB keeps those buffers on the heap.
MALLOC_TUNED = {"MALLOC_MMAP_THRESHOLD_": "1048576", "MALLOC_TRIM_THRESHOLD_": "8388608"}
RECORDED_PREFIXES = ("MALLOC_", "GLIBC_TUNABLES", "GO", "PYTHON")


def child_env(malloc: str) -> dict[str, str]:
    """Environment for the processes under test, the same for all loops."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    if malloc == "tuned":
        env.update(MALLOC_TUNED)
    elif malloc == "inherit":
        env.update({k: v for k, v in os.environ.items()
                    if k.startswith("MALLOC_") or k == "GLIBC_TUNABLES"})
    python_dir = str(REPO / "python")
    rest = env.get("PYTHONPATH")
    env["PYTHONPATH"] = python_dir + (os.pathsep + rest if rest else "")
    return env


def _run(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30, cwd=cwd, env=env)
        return (out.stdout or out.stderr).strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unavailable ({exc})"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def loop_versions(env: dict[str, str]) -> dict[str, dict[str, str]]:
    """Every loop's version and file, as the processes under test import them."""
    code = ("import json; from harness.loops import LOOPS, version; "
            "print(json.dumps({name: version(name) for name in LOOPS}))")
    out = _run([sys.executable, "-c", code], cwd=BENCH, env=env)
    try:
        found: dict[str, dict[str, str]] = json.loads(out)
    except ValueError:
        return {"error": {"version": "?", "file": out[-500:]}}
    return found


def _head_without_git(repo: Path) -> str:
    """HEAD's commit read from the repository files (a chroot may have no git)."""
    dotgit = repo / ".git"
    gitdir = dotgit if dotgit.is_dir() else Path(dotgit.read_text().split("gitdir:", 1)[1].strip())
    head = (gitdir / "HEAD").read_text().strip()
    if not head.startswith("ref:"):
        return head[:7]
    ref = head[4:].strip()
    common = gitdir / (gitdir / "commondir").read_text().strip() if (gitdir / "commondir").exists() else gitdir
    for base in (gitdir, common):
        if (base / ref).exists():
            return (base / ref).read_text().strip()[:7]
    for line in (common / "packed-refs").read_text().splitlines():
        if line.endswith(" " + ref):
            return line[:7]
    raise OSError(f"{ref} not found")


def goloop_commit() -> str:
    """The commit of the goloop under test and whether its code differs from
    it (the benchmark's own files, under bench/, and documents may)."""
    if shutil.which("git") is None:
        try:
            return f"{_head_without_git(REPO)} (git missing: work tree not checked)"
        except (OSError, IndexError) as exc:
            return f"unknown ({exc})"
    commit = _run(["git", "rev-parse", "--short", "HEAD"], REPO)
    dirty = _run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench", ":!*.md"],
                 REPO)
    return commit + (" (goloop's files modified since)" if dirty else "")


def describe(env: dict[str, str], malloc: str) -> dict[str, Any]:
    wrk = shutil.which("wrk")
    return {
        "python": sys.version.split()[0],
        "python_executable": sys.executable,
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
        "cpus": os.cpu_count(),
        "loadavg_at_start": os.getloadavg(),
        "libc": " ".join(platform.libc_ver()),
        "malloc_mode": malloc,
        "settings": {k: v for k, v in env.items() if k.startswith(RECORDED_PREFIXES)},
        "loops": loop_versions(env),
        "goloop_commit": goloop_commit(),
        "go": _run(["go", "version"]),
        "gcc": _run(["gcc", "--version"]).partition("\n")[0],
        "wrk": _run([wrk, "--version"]).split(" Copyright")[0] if wrk else "missing",
    }
