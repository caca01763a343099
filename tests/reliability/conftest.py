"""Reliability fixtures: the per-scenario report, the services as processes, a private stack.

Every scenario hands its :class:`~tests.reliability.checks.Counts` to ``report``; the lines are
printed at the end of the run (``pytest_terminal_summary``), whatever the capture mode.

Restarting the broker or PostgreSQL under the rest of the suite would break other tests' session
fixtures, so those scenarios get a ``private_stack``: Kafka, PostgreSQL and the SMTP sink started
by the fixture on free ports with a temporary state folder, and stopped at the end.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from deploy.local import kafka, postgres, procs, stack
from deploy.local.services import ServiceProcess
from services.runtime.settings import Settings
from tests.reliability.checks import Counts

_REPORT = pytest.StashKey[list[Counts]]()
SERVICES = ("intake", "convening", "notifier")


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Callable[[Counts], None]:
    """Record a scenario's counts for the run's summary (and print them with the test's output)."""
    lines = request.config.stash.setdefault(_REPORT, [])

    def add(counts: Counts) -> None:
        lines.append(counts)
        print("\n" + counts.line())

    return add


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter,
                            config: pytest.Config) -> None:
    """One line per reliability scenario that ran."""
    lines = config.stash.get(_REPORT, [])
    if lines:
        terminalreporter.section("reliability scenarios")
        for counts in lines:
            terminalreporter.write_line(counts.line())


@dataclass
class Services:
    """Service processes by name (``intake``, ``intake#2``...), all logging into ``log_dir``."""

    settings: Settings
    log_dir: Path
    extra_env: dict[str, str]
    procs: dict[str, ServiceProcess] = field(default_factory=dict)
    retired: list[ServiceProcess] = field(default_factory=list)

    def start(self, name: str) -> ServiceProcess:
        which = name.split("#", 1)[0]
        proc = ServiceProcess(which, self.settings, self.log_dir, extra_env=self.extra_env).start()
        if name in self.procs:
            self.retired.append(self.procs[name])
        self.procs[name] = proc
        return proc

    def alive(self) -> dict[str, bool]:
        return {n: p.proc is not None and p.proc.poll() is None for n, p in self.procs.items()}

    def logs(self) -> list[str]:
        """Every log file written (including stopped and killed instances)."""
        return [path.read_text(errors="replace") for path in sorted(self.log_dir.glob("*.log"))]

    def stop_all(self) -> dict[str, int]:
        """SIGTERM every running instance; their exit codes."""
        return {n: p.terminate() for n, p in self.procs.items()
                if p.proc is not None and p.proc.poll() is None}


@contextlib.contextmanager
def running_services(settings: Settings, log_dir: Path, names: tuple[str, ...] = SERVICES
                     ) -> Iterator[Services]:
    """Start ``names`` as processes; stop them at the end (however the test ended)."""
    svc = Services(settings, log_dir, {"COMMANDE_CLOCK_OFFSET_FILE": str(log_dir / "clock-offset")})
    try:
        with ThreadPoolExecutor(len(names)) as pool:  # a second member's start waits for a rebalance
            list(pool.map(svc.start, names))
        yield svc
    finally:
        svc.stop_all()


@dataclass
class PrivateStack:
    """A stack of its own; the scenario may stop and start its broker and its database."""

    settings: Settings

    def stop_broker(self, *, kill: bool, node: int = 1) -> None:
        """SIGTERM (a clean broker shutdown) or SIGKILL (a crash) of a broker's process group
        (``node``: its id, for a cluster)."""
        pid_file = kafka.cluster(self.settings)[node - 1].paths.pid
        if not kill:
            procs.stop_pid(pid_file, timeout=30)
            return
        pid = procs.read_pid(pid_file)
        assert pid is not None, f"the private broker (node {node}) is not running"
        os.killpg(pid, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while procs.pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        pid_file.unlink(missing_ok=True)

    def start_broker(self) -> None:
        """Start the broker (a cluster: every node that does not run). A node restarted after a
        crash recovers its logs first; on a busy 2-core machine that took up to a minute."""
        with _detached():
            kafka.start(self.settings, wait=120)

    def stop_database(self, mode: str) -> None:
        postgres.stop(self.settings, mode)  # type: ignore[arg-type]

    def start_database(self) -> None:
        postgres.start(self.settings)


@contextlib.contextmanager
def _detached() -> Iterator[None]:
    """The stack spawns its daemons detached and lets go of their ``Popen`` at once, which
    Python reports as a ResourceWarning (an error in this suite): expected here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        yield


def _ephemeral_floor() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _free_ports(count: int, *, consecutive: int = 1) -> list[int]:
    """``count`` free ports below the ephemeral range, each followed by ``consecutive - 1`` free
    ones. Below it, because a client retrying a connection to a stopped broker on an ephemeral
    port can be given that very port as its own (a TCP self-connect) and the broker could not
    bind it again on restart."""
    rng = random.Random()
    found: list[int] = []
    while len(found) < count:
        port = rng.randrange(20000, _ephemeral_floor() - consecutive)
        span = range(port, port + consecutive)
        if any(abs(p - port) < consecutive for p in found) or not all(_bindable(p) for p in span):
            continue
        found.append(port)
    return found


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture(scope="module")
def private_stack() -> Iterator[PrivateStack]:
    """Kafka, PostgreSQL and an SMTP sink of this module's own, on free ports."""
    yield from _private(brokers=1)


@pytest.fixture(scope="module")
def private_cluster() -> Iterator[PrivateStack]:
    """The same with three Kafka nodes (broker and controller each, a three-voter quorum),
    every topic replicated three times with ``min.insync.replicas`` 2; clients bootstrap from
    all three."""
    yield from _private(brokers=3, replicas=3, min_insync=2)


def _private(brokers: int, replicas: int | None = None, min_insync: int | None = None
             ) -> Iterator[PrivateStack]:
    # Not under pytest's temporary folder: pytest keeps that private to root, and PostgreSQL
    # runs as its own user.
    state = Path(tempfile.mkdtemp(prefix="commande-reliability-"))
    *nodes, database, smtp = _free_ports(brokers + 2, consecutive=2)  # none a controller's port
    settings = Settings(
        kafka_bootstrap=",".join(f"127.0.0.1:{port}" for port in nodes),
        database_url=f"postgresql://commande@127.0.0.1:{database}/commande",
        smtp_port=smtp, state_dir=state, kafka_replication_factor=replicas,
        kafka_min_insync_replicas=min_insync)
    try:
        with _detached():
            # No Keycloak: the faults are Kafka's and PostgreSQL's, and its port is the test stack's.
            stack.up(settings, identity_provider=False)
        yield PrivateStack(settings)
    finally:
        try:
            stack.down(settings)
        finally:
            shutil.rmtree(state, ignore_errors=True)
