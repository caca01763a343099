"""The three services as separate OS processes on the real stack, with a shared offset clock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploy.local.services import ServiceProcess
from services.runtime.settings import Settings


@dataclass
class Pipeline:
    """intake, convening and notifier, each its own process."""

    settings: Settings
    clock_file: Path
    procs: dict[str, ServiceProcess]

    def restart(self, which: str) -> None:
        old = self.procs[which]
        self.procs[which] = ServiceProcess(which, self.settings, old.log_dir,
                                           extra_env=old.extra_env).start()


@contextmanager
def running_pipeline(settings: Settings, logs: Path, extra_env: dict[str, str] | None = None,
                     services: tuple[str, ...] = ("intake", "convening", "notifier"),
                     ) -> Iterator[Pipeline]:
    """Start ``services`` (sharing an offset clock in ``logs``); SIGTERM them at the end."""
    clock_file = logs / "clock-offset"
    env = {"COMMANDE_CLOCK_OFFSET_FILE": str(clock_file), **(extra_env or {})}
    procs: dict[str, ServiceProcess] = {}
    try:
        for which in services:
            procs[which] = ServiceProcess(which, settings, logs, extra_env=env).start()
        yield Pipeline(settings, clock_file, procs)
    finally:
        codes = {name: proc.terminate() for name, proc in procs.items() if proc.proc is not None}
        bad = {name: code for name, code in codes.items() if code != 0}
        assert not bad, f"services did not stop cleanly on SIGTERM: {bad}; logs in {logs}"


@pytest.fixture(scope="module")
def pipeline(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    with running_pipeline(settings, tmp_path_factory.mktemp("e2e-logs")) as running:
        yield running
