"""Finds uvloop's test directory for the installed uvloop: from the sdist
on PyPI (same version), unpacked once into a cache directory.

The sdist is fetched through the index's JSON simple API (PEP 691) and
checked against its sha256. `pip download` is only the fallback: for an
sdist it builds the package metadata, which for uvloop takes minutes."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "goloop" / "uvloop-tests"


def installed_version() -> str:
    import uvloop

    return uvloop.__version__


def download_sdist(version: str, dest: str) -> Path:
    """uvloop-VERSION.tar.gz from the index into dest, hash-checked."""
    index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")
    req = urllib.request.Request(f"{index}/uvloop/",
                                 headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        files = json.load(resp)["files"]
    name = f"uvloop-{version}.tar.gz"
    entry = next((f for f in files if f["filename"] == name), None)
    if entry is None:
        raise RuntimeError(f"{name} is not on {index}")
    with urllib.request.urlopen(entry["url"], timeout=120) as resp:
        data = resp.read()
    want = entry.get("hashes", {}).get("sha256")
    if want and hashlib.sha256(data).hexdigest() != want:
        raise RuntimeError(f"{name}: sha256 mismatch")
    path = Path(dest) / name
    path.write_bytes(data)
    return path


def pip_download_sdist(version: str, dest: str) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
           "--no-deps", "--no-binary", ":all:", "--dest", dest, f"uvloop=={version}"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    archives = sorted(Path(dest).glob("uvloop-*.tar.gz"))
    if done.returncode != 0 or not archives:
        raise RuntimeError(f"cannot download the uvloop {version} sdist: "
                           f"{(done.stderr or done.stdout).strip()[-300:]}")
    return archives[0]


def tests_root(version: str) -> Path:
    """Directory holding uvloop's `tests` package for `version`; downloads
    and unpacks the sdist when it is not cached. Raises RuntimeError when
    it cannot be had (no network, no such sdist)."""
    root = cache_root() / version
    if (root / "tests" / "__init__.py").is_file():
        return root
    with tempfile.TemporaryDirectory() as tmp:
        try:
            archive = download_sdist(version, tmp)
        except (OSError, ValueError, KeyError, RuntimeError):
            archive = pip_download_sdist(version, tmp)
        root.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=root.parent))
        with tarfile.open(archive) as tar:
            prefix = f"uvloop-{version}/tests/"
            members = [m for m in tar.getmembers()
                       if m.name.startswith(prefix) and (m.isfile() or m.isdir())]
            for m in members:
                m.name = m.name[len(f"uvloop-{version}/"):]
            if hasattr(tarfile, "data_filter"):
                tar.extractall(staging, members=members, filter="data")
            else:
                tar.extractall(staging, members=members)
        if (root / "tests").exists():   # another run got there first
            shutil.rmtree(staging, ignore_errors=True)
        else:
            os.replace(staging, root)
    return root
