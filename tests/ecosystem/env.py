"""Where a project's suite runs: its sdist (the tests come from it),
unpacked once into a cache directory, and a virtual environment per project
and interpreter with the project and its pinned test dependencies, made once
and reused while its requirements are unchanged. goloop is built once per
invocation from this checkout and installed into each environment."""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from .projects import Project

REPO = Path(__file__).resolve().parents[2]


class SetupError(RuntimeError):
    """The environment could not be made (no network, a build failed)."""


def cache_root() -> Path:
    explicit = os.environ.get("GOLOOP_ECOSYSTEM_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "goloop" / "ecosystem"


# A setup step (a download, a venv's installs, goloop's build) that takes
# longer than this is stopped: a stalled registry fails the run, with a
# message, instead of eating CI's time.
SETUP_TIMEOUT = float(os.environ.get("GOLOOP_ECOSYSTEM_SETUP_TIMEOUT", "600"))


def _run(cmd: list[str], what: str) -> None:
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as out:
        # Its own session, so that a timeout stops pip's children (builds) too.
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            proc.wait(timeout=SETUP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            out.seek(0)
            raise SetupError(f"{what}: stopped after {SETUP_TIMEOUT:.0f} s "
                             f"({' '.join(cmd[:6])} ...):\n{out.read().strip()[-1500:]}") from None
        if proc.returncode != 0:
            out.seek(0)
            raise SetupError(f"{what} failed ({' '.join(cmd[:6])} ...):\n{out.read().strip()[-1500:]}")


def _pip(python: str, *args: str) -> list[str]:
    # pip retries a stalled connection (30 s each) twice, then fails with
    # the reason rather than waiting on a slow registry for long.
    return [python, "-m", "pip", "--disable-pip-version-check", "--no-input", "-q",
            "--timeout", "30", "--retries", "2", *args]


def sdist(project: Project) -> Path:
    """The project's sdist from PyPI (cached)."""
    directory = cache_root() / "sdists"
    directory.mkdir(parents=True, exist_ok=True)
    found = sorted(directory.glob(f"{project.name}-{project.version}.tar.gz"))
    if found:
        return found[0]
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        _run(_pip(sys.executable, "download", "--no-deps", "--no-binary", ":all:",
                  "--dest", tmp, f"{project.name}=={project.version}"),
             f"downloading the {project.name} {project.version} sdist")
        archives = list(Path(tmp).glob("*.tar.gz"))
        if len(archives) != 1:
            raise SetupError(f"{project.name}: expected one sdist, got {archives}")
        target = directory / f"{project.name}-{project.version}.tar.gz"
        os.replace(archives[0], target)
    return target


def source_tree(project: Project) -> Path:
    """The unpacked sdist: the suite runs from there (its tests/ and the
    pytest configuration in its pyproject.toml)."""
    root = cache_root() / "src" / f"{project.name}-{project.version}"
    if (root / "tests").is_dir():
        return root
    archive = sdist(project)
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=root.parent))
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(staging, filter="data")
        else:  # pragma: no cover - Pythons before the tarfile filters
            tar.extractall(staging)
    top = staging / f"{project.name}-{project.version}"
    if not (top / "tests").is_dir():
        shutil.rmtree(staging, ignore_errors=True)
        raise SetupError(f"the {project.name} sdist has no tests/ directory")
    if root.exists():
        shutil.rmtree(root)
    os.replace(top, root)
    shutil.rmtree(staging, ignore_errors=True)
    return root


def _venv_key(project: Project) -> str:
    h = hashlib.sha256()
    h.update(project.requirements.read_bytes())
    h.update(f"{project.name}=={project.version}|{sys.version}|{sys.executable}".encode())
    return h.hexdigest()[:16]


def venv_python(project: Project) -> str:
    """A venv with the project (from its sdist) and its pinned test
    dependencies; made once per requirements file and interpreter."""
    tag = sys.implementation.cache_tag
    root = cache_root() / "venvs" / tag / project.name
    key = _venv_key(project)
    python = str(root / "bin" / "python")
    marker = root / ".goloop-ecosystem-ready"
    if marker.is_file() and marker.read_text() == key and os.path.exists(python):
        return python
    if root.exists():
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    _run([sys.executable, "-m", "venv", str(root)], f"making the {project.name} venv")
    _run(_pip(python, "install", "-r", str(project.requirements)),
         f"installing {project.name}'s test dependencies")
    _run(_pip(python, "install", "--no-deps", str(sdist(project))),
         f"installing {project.name} {project.version} from its sdist")
    marker.write_text(key)
    return python


def build_goloop_wheel(into: Path) -> Path:
    """goloop's wheel for the running interpreter, built from this checkout."""
    _run(_pip(sys.executable, "wheel", "--no-deps", "--wheel-dir", str(into), str(REPO)),
         "building goloop")
    wheels = sorted(into.glob("goloop-*.whl"))
    if not wheels:
        raise SetupError("building goloop made no wheel")
    return wheels[-1]


def install_goloop(python: str, wheel: Path) -> None:
    _run(_pip(python, "install", "--no-deps", "--force-reinstall", str(wheel)),
         "installing goloop into a project venv")
