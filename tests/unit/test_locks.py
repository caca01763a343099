"""The two locks agree: the service image's runtime lock is the development lock's subset.

`requirements/runtime.lock` (the image) and `requirements/dev.lock` (the venv of `make`) are
compiled apart by uv; a package both list must be pinned to the same version with the same hashes,
or tests would pass on a build the image never runs. No development tool may reach the image.
"""

from __future__ import annotations

import re

import pytest

from services.runtime.settings import PROJECT_ROOT

pytestmark = pytest.mark.unit

LOCKS = PROJECT_ROOT / "requirements"
DEV_TOOLS = {"pytest", "pytest-asyncio", "pytest-timeout", "mypy", "ruff", "hypothesis",
             "testcontainers", "selenium", "jsonschema", "cloudevents", "rfc3339-validator",
             "types-pyyaml"}
_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==(\S+)")
_HASH = re.compile(r"--hash=(sha256:[0-9a-f]{64})")


def pins(name: str) -> dict[str, tuple[str, frozenset[str]]]:
    """Package -> (version, hashes) of one lock file."""
    versions: dict[str, str] = {}
    hashes: dict[str, set[str]] = {}
    package = ""
    for line in (LOCKS / name).read_text(encoding="utf-8").splitlines():
        if pin := _PIN.match(line):
            package = pin.group(1).lower()
            versions[package], hashes[package] = pin.group(2), set()
        elif package:
            hashes[package].update(_HASH.findall(line))
    return {p: (v, frozenset(hashes[p])) for p, v in versions.items()}


def test_the_runtime_lock_pins_what_the_dev_lock_pins() -> None:
    runtime, dev = pins("runtime.lock"), pins("dev.lock")
    assert runtime, "requirements/runtime.lock lists no package"
    assert all(hashes for _, hashes in runtime.values())
    assert {p: v for p, v in runtime.items() if dev.get(p) != v} == {}


def test_no_development_tool_is_in_the_runtime_lock() -> None:
    runtime, dev = pins("runtime.lock"), pins("dev.lock")
    assert dev.keys() >= DEV_TOOLS
    assert DEV_TOOLS & runtime.keys() == set()
