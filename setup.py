"""Build goloop: the extension module goloop._goloop is a Go program built
with `go build -buildmode=c-shared` against the running interpreter's
headers (Python's symbols resolve from the interpreter at load time, so
the library does not link libpython)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))
MIN_GO = (1, 21)  # toolchain switching: it fetches the version go.mod asks for


def _go_binary() -> str:
    go = shutil.which("go") or next(
        (p for p in ("/usr/local/go/bin/go", os.path.expanduser("~/go/bin/go")) if os.path.exists(p)),
        None)
    if go is None:
        raise SystemExit(
            "goloop: building the extension needs the Go toolchain (go >= %d.%d) on PATH; "
            "install it from https://go.dev/dl or your distribution, then retry." % MIN_GO)
    out = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True).stdout.strip()
    try:
        major, minor = (int(x) for x in out.removeprefix("go").split(".")[:2])
    except ValueError:
        return go  # a development toolchain: let the build decide
    if (major, minor) < MIN_GO:
        raise SystemExit(f"goloop: Go {major}.{minor} is too old, need >= %d.%d" % MIN_GO)
    return go


class GoBuildExt(build_ext):
    """Builds each extension by running `go build -buildmode=c-shared`."""

    def build_extension(self, ext: Extension) -> None:
        go = _go_binary()
        target = os.path.abspath(self.get_ext_fullpath(ext.name))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        include = sysconfig.get_paths()["include"]
        env = dict(os.environ)
        env["CGO_ENABLED"] = "1"
        env["CGO_CFLAGS"] = f"-I{include} -O2 " + env.get("GOLOOP_CFLAGS", "")
        # Python's symbols are resolved by the interpreter that loads us.
        env["CGO_LDFLAGS"] = "-Wl,--unresolved-symbols=ignore-all"
        # GOLOOP_KEEP_SYMBOLS=1 keeps symbol tables for profilers (callgrind).
        ldflags = "" if os.environ.get("GOLOOP_KEEP_SYMBOLS") == "1" else "-s -w"
        cmd = [go, "build", "-buildmode=c-shared", "-trimpath",
               "-ldflags", ldflags, "-o", target, "."]
        print("goloop:", " ".join(cmd))
        subprocess.check_call(cmd, cwd=ROOT, env=env)
        header = os.path.splitext(target)[0] + ".h"
        if os.path.exists(header):
            os.remove(header)


setup(
    ext_modules=[Extension("goloop._goloop", sources=[])],
    cmdclass={"build_ext": GoBuildExt},
)
