"""The console in a real browser: the services (``commande run all``) on the real stack with the
embedded Keycloak and an offset clock, and a headless chromium per person.

Screenshots, axe-core's findings and the timings go to the output folder,
``<COMMANDE_STATE_DIR>/test-output/console/`` (``COMMANDE_BROWSER_OUTPUT`` overrides it).
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploy.local.services import ServiceProcess, free_port
from services.runtime.settings import Settings
from tests.browser.browser import Report, axe_source, require_browser


@dataclass
class Console:
    """The running services and where the console is."""

    settings: Settings
    base: str
    clock_file: Path
    process: ServiceProcess


@pytest.fixture(scope="module")
def console(settings: Settings, keycloak: str,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    require_browser()
    logs = tmp_path_factory.mktemp("console-logs")
    clock_file = logs / "clock-offset"
    week = 7 * 24 * 3600  # whole weeks ahead: an empty calendar, same weekday and time of day
    clock_file.write_text(str(week * random.randint(20 * 52, 2000 * 52)))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = ServiceProcess("all", settings, logs, port=port, extra_env={
        "COMMANDE_CLOCK_OFFSET_FILE": str(clock_file), "COMMANDE_PUBLIC_URL": base,
        "COMMANDE_NOTIFIER_PUBLIC_URL": base, "COMMANDE_OIDC_ISSUER": keycloak,
        "COMMANDE_GATEWAY_ANSWER_SECONDS": "30"})
    proc.start(ready_within=120)
    try:
        yield Console(settings, base, clock_file, proc)
    finally:
        code = proc.terminate()
        assert code == 0, f"the services did not stop cleanly (exit {code}); logs in {logs}"


@pytest.fixture(scope="module")
def report(settings: Settings) -> Iterator[Report]:
    output = Path(os.environ.get("COMMANDE_BROWSER_OUTPUT")
                  or settings.state_dir / "test-output" / "console")
    shutil.rmtree(output, ignore_errors=True)
    output.mkdir(parents=True)
    found = Report(output)
    try:
        yield found
    finally:
        found.write()


@pytest.fixture(scope="module")
def axe(settings: Settings) -> str:
    return axe_source(settings)
