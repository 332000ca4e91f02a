"""goloop's benchmark suite: goloop, stdlib asyncio, uvloop, rloop, rsloop
and zuvloop (those that install on this interpreter) in one run.

    python bench/run.py [--quick] [--rounds 5] [--out bench/results]

Runs the echo matrix (sock_*, streams, Protocol, BufferedProtocol servers at
1, 10 and 100 KiB under the Go client in bench/echoclient) with its kernel
floor (bench/floor/echo_floor.c, a C epoll echo server), the HTTP server
under wrk, the loop micro-workloads (bench/loop_micro.py) and the idle test,
then writes results.md, chart.png and results.json into --out. Every round
runs the loops one after the other on each row, the starting loop rotating
from round to round; the tables show medians of the rounds and goloop's
ratios to the best peer of each row, to uvloop and to asyncio. --quick is
the developers' run (about 3 minutes with six loops); the full run takes
about 15 minutes. bench/callgrind.py is the instruction-count companion
for the micro rows."""
from __future__ import annotations

import argparse
import datetime
import importlib.util
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import echo, idle, micro, wrk
from harness.chart import draw
from harness.env import BENCH, REPO, child_env, describe
from harness.report import render
from harness.results import LOOPS, PEERS, Results

FULL_REQUESTS = {1024: 100_000, 10 * 1024: 75_000, 100 * 1024: 25_000}
FLOOR_SOURCE = BENCH / "floor" / "echo_floor.c"
FLOOR_CFLAGS = ("-O2", "-Wall", "-Werror")
STEPS = ("echo", "http", "micro", "idle")


def log(msg: str, _t0: float = time.monotonic()) -> None:
    print(f"[{time.monotonic() - _t0:6.1f}s] {msg}", file=sys.stderr, flush=True)


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer rounds and requests (< 3 min)")
    ap.add_argument("--rounds", type=int, help="rounds per row (default 5, --quick 3)")
    ap.add_argument("--out", type=Path, default=BENCH / "results", help="output directory")
    ap.add_argument("--only", action="append", choices=STEPS, help="run only this step (repeatable)")
    ap.add_argument("--conns", type=int, default=10, help="echo client connections")
    ap.add_argument("--loops", help="comma-separated subset of " + ",".join(LOOPS) + " (default: all)")
    ap.add_argument("--no-install", action="store_true",
                    help="do not try `pip install` for a missing peer loop")
    ap.add_argument("--render", type=Path, metavar="DIR",
                    help="measure nothing: draw DIR/results.md and chart.png again from DIR/results.json")
    ap.add_argument("--malloc", choices=("tuned", "default", "inherit"), default="tuned",
                    help="glibc malloc thresholds for every loop: tuned (the default), "
                         "glibc's defaults, or whatever MALLOC_* this shell has")
    return ap.parse_args()


def ensure_peer(env: dict[str, str], name: str, install: bool) -> str | None:
    """None if the peer loop makes a loop here, else why not (after one
    `pip install` attempt when `install`)."""
    probe = [sys.executable, "-c", f"import {name}; {name}.new_event_loop().close()"]
    out = subprocess.run(probe, env=env, capture_output=True, text=True)
    if out.returncode == 0:
        return None
    if install:
        log(f"{name} missing: pip install {name}")
        try:
            subprocess.run([sys.executable, "-m", "pip", "install", "-q", name],
                           capture_output=True, timeout=600)
        except subprocess.TimeoutExpired:
            pass
        out = subprocess.run(probe, env=env, capture_output=True, text=True)
        if out.returncode == 0:
            return None
    last = (out.stderr.strip().splitlines() or ["?"])[-1]
    return f"{name} not available on this interpreter ({last[:200]}): its column is empty"


def ensure_goloop(env: dict[str, str]) -> str | None:
    probe = [sys.executable, "-c", "import goloop; goloop.new_event_loop().close()"]
    if subprocess.run(probe, env=env, capture_output=True).returncode == 0:
        return None
    log("goloop extension not importable: building it in place")
    subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=REPO)
    out = subprocess.run(probe, env=env, capture_output=True, text=True)
    return None if out.returncode == 0 else out.stderr[-1500:]


def ensure_matplotlib() -> bool:
    if importlib.util.find_spec("matplotlib") is None:
        log("matplotlib missing: pip install matplotlib")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "matplotlib"])
        importlib.invalidate_caches()
    return importlib.util.find_spec("matplotlib") is not None


def build_client(bindir: Path) -> Path | str:
    go = shutil.which("go")
    if go is None:
        return "Go toolchain missing: echo rows skipped"
    target = bindir / "echoclient"
    out = subprocess.run([go, "build", "-o", str(target), "."], cwd=BENCH / "echoclient",
                         capture_output=True, text=True)
    return target if out.returncode == 0 else f"echo client did not build: {out.stderr[-800:]}"


def build_floor(bindir: Path) -> Path | str:
    gcc = shutil.which("gcc")
    if gcc is None:
        return "gcc missing: the C floor (bench/floor/echo_floor.c) skipped"
    target = bindir / "echo_floor"
    out = subprocess.run([gcc, *FLOOR_CFLAGS, "-o", str(target), str(FLOOR_SOURCE)],
                         capture_output=True, text=True)
    return target if out.returncode == 0 else f"C floor did not build: {out.stderr[-800:]}"


def write_report(res: Results, out: Path) -> None:
    command = res.config.get("command", "python bench/run.py")
    (out / "results.md").write_text(render(res, command))
    if ensure_matplotlib():
        if not draw(res, out / "chart.png"):
            log("no peer loop measured: chart.png not drawn (it shows every loop relative to the best peer)")
    else:
        log("matplotlib unavailable: chart.png not drawn")


def main() -> None:
    opts = parse_args()
    if opts.render:
        write_report(Results.load(opts.render / "results.json"), opts.render)
        log(f"drawn again from {opts.render / 'results.json'}")
        return
    started = time.monotonic()
    rounds = opts.rounds or (3 if opts.quick else 5)
    steps = opts.only or list(STEPS)
    env = child_env(opts.malloc)
    res = Results()
    wanted = opts.loops.split(",") if opts.loops else list(LOOPS)
    unknown = set(wanted) - set(LOOPS)
    if unknown:
        sys.exit(f"unknown loops {sorted(unknown)}; known: {','.join(LOOPS)}")
    loops = [loop for loop in LOOPS if loop in wanted or loop == "goloop"]  # goloop always
    for peer in PEERS:
        if peer in loops:
            why = ensure_peer(env, peer, not opts.no_install)
            if why:
                loops.remove(peer)
                res.skipped.append(why)
    goloop_error = ensure_goloop(env)
    if goloop_error:
        sys.exit(f"goloop does not import; build it first "
                 f"(cd {REPO} && python3 setup.py -q build_ext --inplace):\n{goloop_error}")
    res.env = describe(env, opts.malloc)
    scale = 8 if opts.quick else 1
    res.config = {
        "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "rounds": rounds, "quick": opts.quick, "loops": loops, "steps": steps,
        "echo_conns": opts.conns,
        "floor_build": " ".join(["gcc", *FLOOR_CFLAGS, str(FLOOR_SOURCE.relative_to(REPO))]),
        "floor_mode": echo.FLOOR_MODE,
        "echo_requests": {f"{size // 1024} KiB": n // scale for size, n in FULL_REQUESTS.items()},
        "wrk_threads": 2, "wrk_conns": 50, "wrk_seconds": 2 if opts.quick else 5,
        "micro_n": 30_000 if opts.quick else 200_000,
        "idle_seconds": 5 if opts.quick else 10,
        "command": ("python bench/run.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])).strip(),
    }
    log(f"loops {loops}, {rounds} rounds, malloc {opts.malloc}: {res.env['settings']}")

    with tempfile.TemporaryDirectory(prefix="goloop-bench-") as tmp:
        echo_cfg: echo.EchoConfig | None = None
        if "echo" in steps:
            client = build_client(Path(tmp))
            if isinstance(client, str):
                res.skipped.append(client)
            else:
                floor = build_floor(Path(tmp))
                if isinstance(floor, str):
                    res.skipped.append(floor)
                echo_cfg = echo.EchoConfig(client, opts.conns,
                                           {size: n // scale for size, n in FULL_REQUESTS.items()},
                                           warmup_fraction=0.05,
                                           floor=floor if isinstance(floor, Path) else None)
        wrk_cfg: wrk.WrkConfig | None = None
        if "http" in steps:
            wrk_bin = shutil.which("wrk")
            if wrk_bin is None:
                res.skipped.append("wrk missing (apt-get install -y wrk): HTTP row skipped")
            else:
                wrk_cfg = wrk.WrkConfig(wrk_bin, 2, 50, res.config["wrk_seconds"], 0 if opts.quick else 1)
        for r in range(rounds):
            order = loops[r % len(loops):] + loops[:r % len(loops)]
            log(f"round {r + 1}/{rounds}, order {order}")
            if echo_cfg:
                echo.run_round(echo_cfg, order, r, env, res, log)
            if wrk_cfg:
                wrk.run_round(wrk_cfg, order, env, res, log)
        if "micro" in steps:
            log("micro-workloads")
            micro.run(loops, rounds, res.config["micro_n"], env, res)
        if "idle" in steps:
            log(f"idle test, {res.config['idle_seconds']} s")
            res.idle = idle.measure(loops, env, res.config["idle_seconds"], 2.0, res.notes)

    res.seconds = time.monotonic() - started
    opts.out.mkdir(parents=True, exist_ok=True)
    res.save(opts.out / "results.json")
    write_report(res, opts.out)
    log(f"done in {res.seconds / 60:.1f} min: {opts.out / 'results.md'}")
    for row, loop, err in res.failures():
        log(f"FAILED {row.group} / {row.name} / {loop}: {err[:300]}")


if __name__ == "__main__":
    main()
