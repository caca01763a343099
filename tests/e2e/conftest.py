"""The services as separate OS processes on the real stack, with a shared offset clock; people
act through the gateway, signed in to the embedded Keycloak."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploy.local.services import ServiceProcess, free_port
from services.runtime.settings import Settings


@dataclass
class Pipeline:
    """intake, convening, notifier and the gateway, each its own process."""

    settings: Settings
    clock_file: Path
    procs: dict[str, ServiceProcess]

    def restart(self, which: str) -> None:
        old = self.procs[which]
        self.procs[which] = ServiceProcess(which, self.settings, old.log_dir,
                                           extra_env=old.extra_env).start()


@contextmanager
def running_pipeline(settings: Settings, logs: Path, extra_env: dict[str, str] | None = None,
                     services: tuple[str, ...] = ("intake", "convening", "notifier", "gateway"),
                     ports: dict[str, int] | None = None) -> Iterator[Pipeline]:
    """Start ``services`` (sharing an offset clock in ``logs``); SIGTERM them at the end.
    ``ports`` fixes a service's HTTP port (another one's settings may name it: a link to it).

    The clock starts a random whole number of weeks ahead (20 to 2,000 years, as
    ``bench/pipeline.py`` does), so the tables' calendar is empty even on a stack that has kept
    earlier runs' meetings and invitations (a second ``make test``, or ``make test`` after
    ``make demo``); whole weeks keep the weekday and the time of day.
    """
    clock_file = logs / "clock-offset"
    week = 7 * 24 * 3600
    clock_file.write_text(str(week * random.randint(20 * 52, 2000 * 52)))
    env = {"COMMANDE_CLOCK_OFFSET_FILE": str(clock_file), **(extra_env or {})}
    procs: dict[str, ServiceProcess] = {}
    try:
        for which in services:
            port = (ports or {}).get(which) or free_port()
            procs[which] = ServiceProcess(which, settings, logs, extra_env=env, port=port).start()
        yield Pipeline(settings, clock_file, procs)
    finally:
        codes = {name: proc.terminate() for name, proc in procs.items() if proc.proc is not None}
        bad = {name: code for name, code in codes.items() if code != 0}
        assert not bad, f"services did not stop cleanly on SIGTERM: {bad}; logs in {logs}"


@pytest.fixture(scope="module")
def pipeline(settings: Settings, keycloak: str,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    with running_pipeline(settings, tmp_path_factory.mktemp("e2e-logs")) as running:
        yield running
