"""The AsyncAPI snapshot passes the official AsyncAPI parser (npm ``@asyncapi/parser``).

The parser is installed once with ``npm ci`` from the committed lock into the cache folder
(``~/.cache/commande/asyncapi-parser``), never into the work tree. Node.js and npm are
prerequisites of this test, like the JDK is of the broker: without them it fails, it does not skip.
It runs Node.js and npm (and fetches the parser once), so it is no unit test: `make unit` needs
only the Python venv.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from services.runtime.settings import PROJECT_ROOT, Settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
HERE = Path(__file__).with_name("asyncapi")
SNAPSHOT = PROJECT_ROOT / "schemas" / "snapshots" / "asyncapi.json"


def _parser_dir() -> Path:
    need = "Node.js and npm run the official AsyncAPI parser (Debian: apt-get install -y nodejs npm)"
    assert shutil.which("node"), need
    assert shutil.which("npm"), need
    target = Settings().cache_dir / "asyncapi-parser"
    lock = (HERE / "package-lock.json").read_bytes()
    if (target / "package-lock.json").exists() and (target / "package-lock.json").read_bytes() == lock \
            and (target / "node_modules" / "@asyncapi" / "parser").exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json", "check.mjs"):
        shutil.copy(HERE / name, target / name)
    done = subprocess.run(["npm", "ci", "--silent", "--no-audit", "--no-fund"], cwd=target,
                          capture_output=True, text=True, timeout=280, check=False)
    assert done.returncode == 0, f"npm ci failed: {done.stderr[-2000:]}"
    return target


def test_the_asyncapi_snapshot_passes_the_official_parser() -> None:
    target = _parser_dir()
    shutil.copy(HERE / "check.mjs", target / "check.mjs")
    done = subprocess.run(["node", "check.mjs", str(SNAPSHOT)], cwd=target, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "errors: 0" in done.stdout
