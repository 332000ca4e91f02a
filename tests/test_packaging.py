"""The sdist carries every source file of the extension: its Go, C and
header files and go.mod/go.sum are exactly those git tracks, so a new
directory can never be left out (MANIFEST.in includes them by pattern).

Needs `build` and a git checkout; skipped without them, except when
GOLOOP_PACKAGING_REQUIRED=1 (scripts/package-check.sh, run by CI)."""
from __future__ import annotations

import fnmatch
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCE_PATTERNS = ("*.go", "*.c", "*.h", "go.mod", "go.sum")


def _unavailable(why: str) -> None:
    if os.environ.get("GOLOOP_PACKAGING_REQUIRED") == "1":
        pytest.fail(f"required packaging test cannot run: {why}")
    pytest.skip(why)


def _is_source(path: str) -> bool:
    return any(fnmatch.fnmatch(os.path.basename(path), p) for p in SOURCE_PATTERNS)


def _checkout_files() -> list[str]:
    """The files of the checkout: tracked ones and new ones not ignored."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        _unavailable("not a git checkout")
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=ROOT, capture_output=True, check=True).stdout
    return sorted({p for p in out.decode().split("\0") if p and (ROOT / p).is_file()})


def _setuptools_version() -> tuple[int, ...]:
    """The installed setuptools' version (pyproject.toml's minimum is 77)."""
    try:
        return tuple(int(x) for x in importlib.metadata.version("setuptools").split(".")[:2])
    except Exception:  # not installed, or an unusual version string
        return ()


def _build_sdist(files: list[str], tmp: Path) -> Path:
    """The sdist of a clean copy of the checkout's files: what CI or a
    fresh clone builds (a stale egg-info in the tree would add files)."""
    try:  # the distribution, not a `build/` directory of the checkout
        importlib.metadata.version("build")
    except importlib.metadata.PackageNotFoundError:
        _unavailable("the `build` package is not installed")
    src = tmp / "src"
    for p in files:
        (src / p).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / p, src / p)
    outdir = tmp / "dist"
    cmd = [sys.executable, "-m", "build", "--sdist", "--outdir", str(outdir)]
    if _setuptools_version() >= (77,):
        cmd.append("--no-isolation")  # offline and quicker; CI also builds isolated
    subprocess.run(cmd, cwd=src, check=True, capture_output=True, timeout=300)
    (sdist,) = outdir.glob("goloop-*.tar.gz")
    return sdist


def test_sdist_has_every_tracked_source_file(tmp_path: Path) -> None:
    files = _checkout_files()
    tracked = {p for p in files if _is_source(p)}
    assert "go.mod" in tracked and any(p.endswith(".c") for p in tracked)
    sdist = _build_sdist(files, tmp_path)
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
    top = names[0].split("/", 1)[0]
    in_sdist = {n.split("/", 1)[1] for n in names if "/" in n and _is_source(n)}
    assert sorted(tracked - in_sdist) == [], "tracked sources missing from the sdist"
    assert sorted(in_sdist - tracked) == [], "sdist sources git does not track"
    for needed in ("setup.py", "pyproject.toml", "README.md", "examples/hello.py",
                   "python/goloop/__init__.py"):
        assert f"{top}/{needed}" in names
