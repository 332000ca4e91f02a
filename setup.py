"""Build goloop: the extension module goloop._goloop is a Go program built
with `go build -buildmode=c-shared` against the running interpreter's
headers. Python's symbols are left unresolved at link time (the library
does not link libpython: the interpreter that loads it provides them), so
after linking every undefined symbol is checked against what the building
interpreter and the C library export, and the module is loaded once in a
fresh interpreter: a missing symbol fails the build, not a user's import."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))


def required_go() -> tuple[int, int]:
    """The oldest Go that builds goloop: go.mod's `go` line (one source of truth)."""
    with open(os.path.join(ROOT, "go.mod"), encoding="utf-8") as f:
        m = re.search(r"^go\s+(\d+)\.(\d+)", f.read(), re.MULTILINE)
    if m is None:
        raise SystemExit("goloop: go.mod has no `go` line")
    return int(m.group(1)), int(m.group(2))


def _go_binary() -> str:
    need = "Go >= %d.%d (go.mod's go line)" % required_go()
    go = shutil.which("go") or next(
        (p for p in ("/usr/local/go/bin/go", os.path.expanduser("~/go/bin/go")) if os.path.exists(p)),
        None)
    if go is None:
        raise SystemExit(
            f"goloop: building the extension needs {need} on PATH and a C compiler; "
            "install Go from your distribution or https://go.dev/dl, then retry "
            "(or install a wheel, which needs neither).")
    # GOTOOLCHAIN=local: report the Go that is installed, not one it would fetch.
    out = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True,
                         env={**os.environ, "GOTOOLCHAIN": "local"}).stdout.strip()
    m = re.match(r"go(\d+)\.(\d+)", out)
    if m is None:
        return go  # a development toolchain: let the build decide
    if (int(m.group(1)), int(m.group(2))) < required_go():
        raise SystemExit(f"goloop: {go} is {out}, too old: building goloop needs {need}.")
    return go


def _nm(path: str, which: str) -> list[tuple[str, str]]:
    """(type, name) of the dynamic symbols of an ELF file; name without @version."""
    out = subprocess.run(["nm", "-D", which, path], capture_output=True, text=True, check=True).stdout
    syms = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            syms.append((parts[-2], parts[-1].split("@", 1)[0]))
    return syms


def _interpreter_objects() -> list[str]:
    """The ELF files of this running interpreter that export the C API: its
    executable and, when it has one, its libpython (from /proc/self/maps)."""
    exe = os.path.realpath(sys.executable)
    found = {exe}
    with open("/proc/self/maps", encoding="utf-8") as f:
        for line in f:
            path = line.split(maxsplit=5)[-1].strip()
            if os.path.basename(path).startswith("libpython"):
                found.add(os.path.realpath(path))
    return sorted(found)


def _needed_libraries(path: str) -> list[str]:
    """Paths of the shared libraries the built library asks for (ldd)."""
    out = subprocess.run(["ldd", path], capture_output=True, text=True, check=True).stdout
    return [m.group(1) for m in re.finditer(r"=>\s*(/\S+)", out)]


def check_symbols(path: str) -> None:
    """Fail when a symbol the library needs is exported neither by this
    interpreter nor by the libraries it links (libc)."""
    if shutil.which("nm") is None or shutil.which("ldd") is None:
        print("goloop: nm/ldd not found: unresolved symbols are checked by the load test only")
        return
    undefined = {name for kind, name in _nm(path, "--undefined-only") if kind == "U"}
    providers = _interpreter_objects() + _needed_libraries(path)
    defined: set[str] = set()
    for obj in providers:
        defined.update(name for kind, name in _nm(obj, "--defined-only"))
    missing = sorted(undefined - defined)
    if missing:
        raise SystemExit(
            "goloop: the built library needs symbols that neither this interpreter nor "
            f"its libraries export ({', '.join(providers)}):\n  " + "\n  ".join(missing))
    print(f"goloop: all {len(undefined)} undefined symbols resolve "
          f"(checked against {', '.join(providers)})")


def load_test(path: str) -> None:
    """Load the extension in a fresh interpreter (dlopen with RTLD_NOW and
    the module's init), as the first loop of a user would."""
    code = ("import importlib.util, sys\n"
            "spec = importlib.util.spec_from_file_location('goloop._goloop', sys.argv[1])\n"
            "mod = importlib.util.module_from_spec(spec)\n"
            "spec.loader.exec_module(mod)\n"
            "assert hasattr(mod, 'LoopCore'), dir(mod)\n")
    r = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True,
                       timeout=120)
    if r.returncode != 0:
        raise SystemExit(f"goloop: the built extension does not load:\n{r.stdout}{r.stderr}")


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
        # Python's symbols are resolved by the interpreter that loads us;
        # check_symbols below verifies that it can. libm: newer gcc calls
        # ceil() where gcc 12 inlines it; linked only when used (as-needed)
        # rather than borrowed from whatever the interpreter loaded.
        env["CGO_LDFLAGS"] = "-Wl,--unresolved-symbols=ignore-all -Wl,--as-needed -lm"
        # -w: no DWARF, but the symbol table stays, so a core dump, gdb or
        # perf names every C and Go function (README, "Install"); Go's own
        # tracebacks need neither. GOLOOP_KEEP_SYMBOLS=1 keeps the DWARF
        # too (callgrind by line).
        ldflags = "" if os.environ.get("GOLOOP_KEEP_SYMBOLS") == "1" else "-w"
        cmd = [go, "build", "-buildmode=c-shared", "-trimpath",
               "-ldflags", ldflags, "-o", target, "."]
        print("goloop:", " ".join(cmd))
        subprocess.check_call(cmd, cwd=ROOT, env=env)
        header = os.path.splitext(target)[0] + ".h"
        if os.path.exists(header):
            os.remove(header)
        check_symbols(target)
        load_test(target)


setup(
    ext_modules=[Extension("goloop._goloop", sources=[])],
    cmdclass={"build_ext": GoBuildExt},
)
