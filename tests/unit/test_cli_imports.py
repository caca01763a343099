"""``commande run <service>`` goes through the same CLI as the analysts' commands: loading the CLI
must not load the analytics-only libraries (pyarrow and matplotlib, ~75 MB per service process)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit


def test_the_cli_loads_without_the_analytics_only_libraries() -> None:
    code = ("import sys, services.cli; "
            "print(sorted(m for m in ('pyarrow', 'matplotlib') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == "[]"
