"""The third-party projects whose own test suites run on goloop: which
release, which test dependencies, how their pytest is invoked, and what is
left out of the run (each with its reason)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Project:
    name: str                   # PyPI name; the sdist carries the tests
    version: str
    # pytest arguments after the test directory (the suite's own addopts
    # from its pyproject.toml apply as well).
    pytest_args: tuple[str, ...] = ()
    # The suite turns blockbuster on by itself when it is installed (anyio's
    # conftest): it runs with and without it.
    blockbuster_own: bool = False
    # For a suite that does not: the packages whose calls blockbuster checks
    # when the plugin turns it on around each test (as anyio's conftest does
    # for "anyio"): it runs with and without it too.
    blockbuster_scan: tuple[str, ...] = ()
    # Run-wide limit in seconds (a hang must not eat CI's budget).
    timeout: float = 900
    # Deselected on both loops: node id prefix -> reason.
    deselect: dict[str, str] = field(default_factory=dict)
    # What pytest_args leave out, and why (for the report).
    excluded: dict[str, str] = field(default_factory=dict)
    # Deselected in the blockbuster-on runs, on both loops: tests that hang
    # there until the per-test timeout on both loops (time, not a verdict).
    # node id prefix -> reason.
    deselect_blockbuster: dict[str, str] = field(default_factory=dict)
    # Deselected in the goloop run only, because goloop is forced there:
    # tests that assert which loop class asyncio or the project makes by
    # default. node id prefix -> reason.
    deselect_goloop: dict[str, str] = field(default_factory=dict)

    @property
    def blockbuster(self) -> bool:
        """Runs with and without blockbuster (blockbuster is installed)."""
        return self.blockbuster_own or bool(self.blockbuster_scan)

    @property
    def requirements(self) -> Path:
        return HERE / "requirements" / f"{self.name}.txt"

    @property
    def expected(self) -> Path:
        return HERE / "expected" / f"{self.name}.txt"


_NO_IPV6_LOCALHOST = ("'localhost' has no IPv6 address on this machine (/etc/hosts maps it to "
                      "127.0.0.1 only): the ipv6/dualstack cases fail in their fixtures on both "
                      "loops and leak sockets whose ResourceWarnings then fail later tests at random")

_SUBPROCESS_3S = ("runs pytest in a child process with a 3 s limit, which the child's start-up "
                  "alone can exceed on a loaded 2-core machine, on either loop (it failed so on "
                  "goloop once, then passed); the child runs stdlib asyncio in both runs: the "
                  "pytest plugin forcing goloop is not loaded there")

PROJECTS: dict[str, Project] = {p.name: p for p in (
    Project(
        "anyio", "4.16.0",
        # Internet access is not available; uvloop/trio are not installed
        # (their cases skip); asyncio+eager is asyncio.new_event_loop() with
        # the eager task factory, so it runs on goloop too.
        pytest_args=("-m", "not network", "-k", "not ipv6 and not dualstack"),
        blockbuster_own=True,
        timeout=600,    # ~2.5 min here; its pyproject sets a 20 s per-test timeout
        deselect={
            "tests/test_pytest_plugin.py::test_keyboardinterrupt_during_test": _SUBPROCESS_3S,
            "tests/test_pytest_plugin.py::test_dynamic_async_fixture_access_does_not_hang":
                _SUBPROCESS_3S,
        },
        excluded={
            "-m 'not network'": "need Internet access, which this machine does not have",
            "-k 'not ipv6 and not dualstack'": _NO_IPV6_LOCALHOST,
            "[asyncio+uvloop], [trio]": "uvloop and trio are not installed: skipped on both loops",
        },
    ),
    Project(
        "uvicorn", "0.54.0",
        # Its own addopts run 8 xdist workers; 4 suit two cores (the tests
        # mostly wait on sockets and child processes).
        pytest_args=("-n", "4", "--timeout", "120", "--ignore", "tests/benchmarks"),
        blockbuster_scan=("uvicorn",),
        deselect_blockbuster={
            "tests/middleware/test_logging.py::test_running_log_using_uds":
                "uvicorn's startup checks the socket path from its own code (server.py: "
                "os.path.exists(uds)), blockbuster rejects it, the server task dies and the test "
                "waits for a start that never comes until pytest-timeout's 120 s, on both loops",
        },
        timeout=420,    # ~75 s here
        excluded={"tests/benchmarks": "benchmarks (they need pytest-codspeed), not tests"},
        deselect_goloop={
            "tests/test_compat.py::test_asyncio_run__default_loop_factory":
                "asserts asyncio.run() makes asyncio's default loop class",
            "tests/test_config.py::test_get_loop_factory[asyncio":
                "asserts loop='asyncio' gives asyncio.SelectorEventLoop",
            "tests/test_auto_detection.py::test_loop_auto":
                "asserts loop='auto' gives asyncio's loop when uvloop is missing",
        },
    ),
    Project(
        "httpx", "0.28.1",
        # The trio cases do not touch an asyncio loop at all.
        pytest_args=("-k", "not trio", "--timeout", "120"),
        blockbuster_scan=("httpx",),
        timeout=300,    # ~25 s here
        excluded={"-k 'not trio'": "the [trio] cases run no asyncio loop at all"},
    ),
)}
